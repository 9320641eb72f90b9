"""Executed notebooks and the record of their run: which profile, data, machine and date produced the
outputs a reader sees.

An executed notebook carries its :class:`RunRecord` in ``metadata["sgt_course_run"]``. The kernel
facts (profile, device, data) come from :data:`PROBE`, a snippet run in the notebook's own kernel after
its last cell; the client adds the date, the wall time and two fingerprints:

- ``code`` — the notebook's code cells (:func:`code_fingerprint`): outputs computed from other code are
  stale, so the website re-executes that notebook; a prose-only change needs no new run;
- ``library`` — the ``sgt_course`` sources (:func:`library_fingerprint`), reported, not enforced: a
  library change may or may not move a notebook's numbers, and re-running every notebook for a typo
  fix is the user's call (``sgt-course site --fresh``).

Both headless executors write records: ``sgt-course run`` (:func:`~sgt_course.tools.headless.execute`) and
the nbval run of ``sgt-course test`` (``notebooks/conftest.py``, into $SGT_COURSE_EXECUTED), so the website
reuses either's outputs (:func:`load_reusable`).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

#: Where an executed notebook keeps its record.
RECORD_KEY = "sgt_course_run"
#: The folder where the nbval run of ``sgt-course test`` keeps the notebooks it executed (for the site's test).
EXECUTED_ENV = "SGT_COURSE_EXECUTED"
#: Printed by :data:`PROBE` before its JSON, so the probe's output is found among a cell's outputs.
PROBE_MARK = "sgt-course run record: "
#: Run in the notebook's kernel after its last cell: prints the kernel's facts (:func:`kernel_facts`).
PROBE = ("from sgt_course.tools.run_records import PROBE_MARK as _m, kernel_facts as _k\n"
         "import json as _j\n"
         "print(_m + _j.dumps(_k(globals())))\n"
         "del _m, _k, _j")


@dataclass
class RunRecord:
    """Where and how a notebook's outputs were computed.

    Attributes:
        profile: the run profile (``"ci"``, ``"cpu"``, ``"gpu"``).
        date: when the run ended, ISO 8601 in UTC.
        seconds: the notebook's wall time.
        executor: what ran it (``"sgt-course run"``, ``"nbval"``).
        code: :func:`code_fingerprint` of the notebook that was run.
        library: :func:`library_fingerprint` of the ``sgt_course`` that ran it.
        device: the kernel's device, with the GPU's name (``"cuda:0 (NVIDIA H100)"``) or ``"cpu"``.
        machine: OS, CPU and core count of the kernel's machine.
        software: Python and torch versions.
        data: the data sets the notebook's variables held, in words (:func:`sgt_course.data.describe_source`).
        error: the last line of a failing cell's error; None when every cell ran.
    """

    profile: str
    date: str
    seconds: float
    executor: str
    code: str
    library: str
    device: str = "unknown"
    machine: str = "unknown"
    software: str = "unknown"
    data: list[str] = field(default_factory=list)
    error: str | None = None

    def summary(self) -> str:
        """The record in one paragraph, for the top of a web page."""
        data = "; ".join(self.data) or "none loaded"
        return (f"Executed in the {self.profile} profile on {self.date[:10]} ({self.seconds:.0f} s, {self.executor}). "
                f"Data: {data}. Machine: {self.machine}; device {self.device}; {self.software}.")


def code_fingerprint(nb: object) -> str:
    """SHA-256 (first 16 hex digits) of the notebook's code cells, in order: what its outputs depend on
    besides the library and the data."""
    digest = hashlib.sha256()
    for cell in nb.cells:
        if cell.cell_type == "code":
            digest.update(cell.source.encode() + b"\0")
    return digest.hexdigest()[:16]


def library_fingerprint() -> str:
    """SHA-256 (first 16 hex digits) of every ``sgt_course`` module outside ``tools``."""
    package = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        if relative.parts[0] != "tools":
            digest.update(str(relative).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _is_dataset(value: object, protocol: type) -> bool:
    try:
        return isinstance(value, protocol)
    except Exception:  # an attribute lookup that raises (a lazy proxy, a widget) is not a data set
        return False


def kernel_facts(namespace: Mapping[str, object]) -> dict[str, object]:
    """What a kernel can say about its run: profile, device, machine, software, and the data sets held
    by the variables of ``namespace`` (a notebook's ``globals()``), also inside tuples, lists and dicts."""
    import torch

    from sgt_course.data import Dataset, describe_source
    from sgt_course.recipes import get_profile
    from sgt_course.runtime import get_device

    device = get_device()
    name = f"{device} ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else str(device)
    values = list(namespace.values())
    values += [v for value in values if isinstance(value, (tuple, list)) for v in value]
    values += [v for value in values if isinstance(value, dict) for v in value.values()]
    sources = {value.source for value in values if _is_dataset(value, Dataset)}
    return {"profile": get_profile().name, "device": name,
            "machine": f"{platform.system()} {platform.machine()}, {_cpu_name()}, {os.cpu_count()} cores",
            "software": f"Python {platform.python_version()}, torch {torch.__version__}",
            "data": sorted(describe_source(s) for s in sources)}


def probe_facts(outputs: list[Mapping[str, object]]) -> dict[str, object]:
    """The facts :data:`PROBE` printed, found among a cell's ``outputs`` (empty when it printed none)."""
    for output in outputs:
        if output.get("output_type") == "stream":
            for line in str(output.get("text", "")).splitlines():
                if line.startswith(PROBE_MARK):
                    return json.loads(line[len(PROBE_MARK):])
    return {}


def make_record(nb: object, facts: Mapping[str, object], *, profile: str, seconds: float, executor: str,
                error: str | None = None) -> RunRecord:
    """The record of a run of ``nb`` that just ended; ``facts`` from :func:`probe_facts` (the kernel's
    profile wins over ``profile``, which is what was asked for)."""
    known = {k: facts[k] for k in ("device", "machine", "software", "data") if k in facts}
    date = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return RunRecord(profile=str(facts.get("profile", profile)), date=date, seconds=round(seconds, 1),
                     executor=executor, code=code_fingerprint(nb), library=library_fingerprint(), error=error, **known)


def attach(nb: object, record: RunRecord) -> None:
    """Store ``record`` in ``nb``'s metadata."""
    nb.metadata[RECORD_KEY] = asdict(record)


def record_of(nb: object) -> RunRecord | None:
    """The record stored in ``nb`` (None for a notebook no course tool executed)."""
    stored = nb.metadata.get(RECORD_KEY)
    return RunRecord(**stored) if stored else None


def load_reusable(executed: Path, source: object, profile: str) -> object | None:
    """The executed notebook at ``executed``, loaded, when its outputs still hold for ``source`` in
    ``profile``: it ran without error, in that profile, from the same code cells. Otherwise None.

    The returned notebook has ``source``'s cells (so prose edits show) with the executed outputs.
    """
    import nbformat

    if not executed.is_file():
        return None
    nb = nbformat.read(executed, as_version=4)
    record = record_of(nb)
    if record is None or record.error or record.profile != profile or record.code != code_fingerprint(source):
        return None
    ran = iter(cell for cell in nb.cells if cell.cell_type == "code")
    merged = nbformat.from_dict(json.loads(json.dumps(source)))
    for cell in merged.cells:
        if cell.cell_type == "code":
            done = next(ran)
            cell.outputs, cell.execution_count = done.outputs, done.execution_count
    merged.metadata[RECORD_KEY] = nb.metadata[RECORD_KEY]
    return merged
