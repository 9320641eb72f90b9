"""Headless execution: run a notebook top to bottom in a fresh kernel, as ``sgt-course run``, the site,
the deck and ``gpu-check`` do, and say what a hung cell was waiting for.

    result = execute(Path("notebooks/02_saliency_guided_training.ipynb"), Path("runs/ci/02.ipynb"), profile="ci")
"""

from __future__ import annotations

import asyncio
import faulthandler
import os
import re
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sgt_course.recipes import PROFILE_ENV
from sgt_course.static_explorers import STATIC_ENV

#: Seconds a cell may run headless before its notebook fails (the slowest cell of the cpu course takes
#: a few minutes; a hung kernel should not take the whole run with it).
CELL_TIMEOUT = 1800
#: The folder that holds the sgt_course package this process imported.
PACKAGE_PARENT = Path(__file__).resolve().parents[2]


@dataclass
class Execution:
    """The result of running one notebook headlessly: its wall time, the seconds until its first figure
    was drawn (None: no figure), and the last line of a failing cell's error."""

    notebook: str
    seconds: float
    error: str | None = None
    first_figure: float | None = None


#: The output types that count as a figure for :attr:`Execution.first_figure`.
FIGURE_TYPES = ("image/png", "image/svg+xml", "image/jpeg")


def _has_figure(cell: object) -> bool:
    return any(kind in output.get("data", {}) for output in cell.get("outputs", []) for kind in FIGURE_TYPES)


def execute(notebook: Path, output: Path | None = None, *, profile: str | None = None,
            timeout: int = CELL_TIMEOUT, backend: str | None = None) -> Execution:
    """Run ``notebook`` top to bottom in a fresh kernel (cwd: its folder), optionally saving the result
    with its :class:`~sgt_course.tools.run_records.RunRecord` (profile, data, machine, date) in its metadata.

    ``profile`` sets $SGT_COURSE_PROFILE for the kernel, ``backend`` matplotlib's backend (see
    :func:`run_cells`). A failing cell stops the run; the error's last line is returned, and the partly
    executed notebook is still saved to ``output``.
    """
    import nbformat

    from sgt_course.tools import run_records

    nb = nbformat.read(notebook, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(run_records.PROBE))
    seconds, error, first_figure = run_cells(nb, notebook.parent, profile=profile, timeout=timeout, backend=backend)
    probe = nb.cells.pop()
    facts = run_records.probe_facts(probe.get("outputs", []))
    asked = profile or os.environ.get(PROFILE_ENV) or "unknown"
    run_records.attach(nb, run_records.make_record(nb, facts, profile=asked, seconds=seconds, executor="sgt-course run",
                                             error=error))
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, output)
    return Execution(notebook.name, seconds, error, first_figure)


INLINE_BACKEND = "module://matplotlib_inline.backend_inline"


#: Seconds a cell's ``execute_reply`` may lag behind the kernel's "idle" before the client asks the
#: kernel again, and again before it takes "idle" as the cell's end.
REPLY_GRACE = 10.0


async def reply_or_idle(reply: asyncio.Future, idle: asyncio.Future, ask_again: Callable[[], object],
                        grace: float = REPLY_GRACE) -> object | None:
    """The cell's ``execute_reply`` (``reply``'s result), or None once the kernel has been ``idle`` for
    2 × ``grace`` seconds with no reply; ``ask_again()`` is called after the first ``grace``.

    By the messaging protocol a kernel publishes "idle" on IOPub after a cell's last output, so once it
    has, the outputs are complete; the reply on the shell channel only adds the status.
    """
    try:
        await asyncio.wait({reply, idle}, return_when=asyncio.FIRST_COMPLETED)
        if not reply.done() and (idle.cancelled() or idle.exception() is not None):
            return await reply  # no "idle" seen (the output watcher failed): nothing to go on but the reply
        for attempt in range(2):
            if reply.done():
                break
            try:
                return await asyncio.wait_for(asyncio.shield(reply), grace)
            except asyncio.TimeoutError:
                if attempt == 0:
                    ask_again()
        if not reply.done():
            reply.cancel()
            return None
        return reply.result()
    except asyncio.CancelledError:
        reply.cancel()
        raise


def _reply_from_outputs(cell: object, msg_id: str) -> dict:
    """The ``execute_reply`` that ``cell``'s outputs imply: an error output makes it an error."""
    errors = [output for output in cell.get("outputs", []) if output.get("output_type") == "error"]
    content: dict = {"status": "error" if errors else "ok", "execution_count": cell.get("execution_count")}
    if errors:
        content.update({key: errors[-1].get(key) for key in ("ename", "evalue", "traceback")})
    return {"msg_type": "execute_reply", "header": {"msg_type": "execute_reply"}, "parent_header": {"msg_id": msg_id},
            "metadata": {}, "content": content}


def _notebook_client() -> type:
    """nbclient's ``NotebookClient``, made not to wait on a cell's ``execute_reply`` that is overdue once
    its kernel has gone idle (:func:`reply_or_idle`): it asks the kernel for its info after
    :data:`REPLY_GRACE` seconds, and takes the outputs as the cell's result after twice that.

    Why: with ipykernel 7.4 and pyzmq 27 on the 2-core machine, notebook 2's k/λ explorer cell (many
    widget comms and a 1 MB static twin) now and then left its reply unread while both kernel and
    client waited in ``epoll``, the kernel idle and answering other clients: 4 of 5 runs one evening,
    1 of 11 the next day. Each such run sat out the whole cell timeout.
    """
    from nbclient import NotebookClient

    class Client(NotebookClient):
        async def _async_poll_for_reply(self, msg_id: str, cell: object, timeout: int | None,
                                        task_poll_output_msg: asyncio.Future,
                                        task_poll_kernel_alive: asyncio.Future) -> dict:
            reply = asyncio.ensure_future(super()._async_poll_for_reply(
                msg_id, cell, timeout, task_poll_output_msg, task_poll_kernel_alive))

            def ask_again() -> None:
                print(f"no reply {REPLY_GRACE:.0f} s after the kernel went idle; asking it again", file=sys.stderr,
                      flush=True)
                self.kc.kernel_info()

            result = await reply_or_idle(reply, task_poll_output_msg, ask_again)
            if result is not None:
                return result
            print("still no reply: the cell's outputs are taken as its result", file=sys.stderr, flush=True)
            task_poll_kernel_alive.cancel()
            return _reply_from_outputs(cell, msg_id)

    return Client


def run_cells(nb: object, cwd: Path, *, profile: str | None = None, timeout: int = CELL_TIMEOUT,
              backend: str | None = None) -> tuple[float, str | None, float | None]:
    """Execute the notebook object ``nb`` in place in a fresh kernel working in ``cwd``.

    The kernel gets this process's environment with $SGT_COURSE_PROFILE set to ``profile``, matplotlib's
    backend set to ``backend`` (default: $MPLBACKEND, else inline figures), this sgt_course first on
    its $PYTHONPATH and $SGT_COURSE_STATIC_EXPLORERS=1, so its explorers also draw their static twins for
    the site and the deck (:mod:`sgt_course.static_explorers`).
    Returns the wall time in seconds, the last line of a failed cell's error (else None), and the seconds
    from the start until the first cell that drew a figure had finished (None: no figure): how long a
    student waits for the first picture.

    A cell that runs out of its ``timeout`` seconds fails its notebook, and shortly before that the
    Python stacks of the kernel and of this client are written to a file that the error names
    (:class:`StackDump`): what a hung kernel, or a client that stopped listening, was doing.
    """
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    env = dict(os.environ)
    # The kernel imports the sgt_course this process runs, also when that is a checkout on a relative
    # $PYTHONPATH (the kernel works in the notebook's folder) rather than an installed package.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_PARENT), env.get("PYTHONPATH")]))
    if profile is not None:
        env[PROFILE_ENV] = profile
    env["MPLBACKEND"] = backend or env.get("MPLBACKEND") or INLINE_BACKEND
    env[STATIC_ENV] = "1"  # nobody moves a slider in a headless run: explorers draw their static twins
    start, error, first_figure = time.perf_counter(), None, []

    def executed(cell: object, **_: object) -> None:
        dump.disarm()
        if not first_figure and _has_figure(cell):
            first_figure.append(time.perf_counter() - start)

    with _kernel_config() as config, StackDump(timeout) as dump:
        client = _notebook_client()(nb, timeout=timeout, kernel_name="python3",
                                    resources={"metadata": {"path": str(cwd)}}, config=config,
                                    extra_arguments=dump.kernel_arguments,
                                    on_cell_execute=lambda cell, cell_index: dump.arm(client, cell_index),
                                    on_cell_executed=executed)
        try:
            client.execute(env=env)
        except CellExecutionError as failure:
            text = re.sub(r"\x1b\[[0-9;]*m", "", str(failure))  # drop the traceback's colour codes
            lines = [line for line in text.strip().splitlines() if line.strip()]
            error = lines[-1] if lines else "cell failed"
        except (CellTimeoutError, DeadKernelError) as failure:  # a hung or killed kernel fails this notebook only
            error = f"{type(failure).__name__}: {str(failure).strip().splitlines()[0] if str(failure).strip() else ''}"
            if dump.written:
                error += f" (the kernel's and the client's stacks before the timeout: {dump.path})"
    return time.perf_counter() - start, error, (first_figure[0] if first_figure else None)


class StackDump:
    """Writes the Python stacks of a kernel and of this client to a file when a cell has run for most of
    its timeout. The kernel registers a faulthandler for SIGUSR1 at start (``kernel_arguments``, or
    ``register`` run in it), which dumps every thread even while it waits in C; this process dumps its
    own threads. ``arm`` takes anything with the kernel's manager as ``.km`` (an nbclient client, an
    nbval kernel). POSIX only: where there is no SIGUSR1 nothing is armed."""

    def __init__(self, timeout: int) -> None:
        self.delay = max(1.0, timeout - min(5.0, timeout / 4))  # the dump takes about a second
        self.enabled = hasattr(signal, "SIGUSR1")
        handle, name = tempfile.mkstemp(prefix="sgt-course-stacks-", suffix=".txt")
        os.close(handle)
        self.path, self.written, self._timer = Path(name), False, None
        #: Python for a running kernel that did not get ``kernel_arguments`` (nbval's): registers the handler.
        self.register = (f"__import__('faulthandler').register(__import__('signal').SIGUSR1, "
                         f"file=open({str(self.path)!r}, 'a'), all_threads=True)")
        self.kernel_arguments = [f"--IPKernelApp.exec_lines={self.register}"] if self.enabled else []

    def __enter__(self) -> StackDump:
        return self

    def __exit__(self, *exc: object) -> None:
        self.disarm()
        if not self.written:
            self.path.unlink(missing_ok=True)

    def arm(self, client: object, cell_index: int) -> None:
        """Start the clock of cell ``cell_index``."""
        self.disarm()
        if self.enabled:
            self._timer = threading.Timer(self.delay, self._dump, args=(client, cell_index))
            self._timer.daemon = True
            self._timer.start()

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _dump(self, client: object, cell_index: int) -> None:
        self.written = True
        with self.path.open("a") as file:
            file.write(f"cell {cell_index} still running after {self.delay:.0f} s\n\n# the kernel\n")
        pid = getattr(getattr(getattr(client, "km", None), "provisioner", None), "pid", None)
        if pid is not None:
            os.kill(pid, signal.SIGUSR1)
            time.sleep(1.0)  # the kernel writes its stacks to the same file
        with self.path.open("a") as file:
            file.write("\n# this client\n")
            file.flush()
            faulthandler.dump_traceback(file=file, all_threads=True)


@contextmanager
def _kernel_config() -> Iterator[object]:
    """How the headless kernel talks to its client (a traitlets ``Config``). Over TCP every kernel logs
    that its traffic is unencrypted; local socket files (IPC, POSIX only) open no network port and print
    nothing. Their path is absolute, in a folder removed afterwards, because the kernel runs in the
    notebook's folder."""
    from traitlets.config import Config

    if os.name != "posix":
        yield Config()
        return
    with tempfile.TemporaryDirectory(prefix="sgt-kernel-") as folder:
        yield Config({"KernelManager": {"transport": "ipc", "ip": str(Path(folder) / "kernel")}})
