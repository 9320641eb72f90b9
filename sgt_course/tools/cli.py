"""The ``sgt-course`` command: start the course, run it headlessly, test it, keep notebooks in sync.

    sgt-course lab                    # JupyterLab on notebooks/
    sgt-course run --profile ci       # execute every notebook, print each one's wall time
    sgt-course prepare --profile cpu  # before a class: train and cache every model, resumable
    sgt-course test                   # unit tests + every notebook under nbval (ci profile)
    sgt-course sync                   # regenerate the .ipynb files from their .py sources
    sgt-course exercises              # regenerate notebooks/student/ (solutions replaced by stubs)
    sgt-course slides --profile cpu   # build the seminar deck into slides/build/index.html
    sgt-course site --profile cpu     # the course website, every notebook executed, into site/
    sgt-course reproduce              # the paper-size experiments (MNIST, CIFAR-10); see --help
    sgt-course bench --profile ci     # step costs, widget latency, memory, notebook times
    sgt-course step-cost              # SGT and ASGT steps against the steps they extend
    sgt-course speed-levers           # where a step's time goes; channels_last, bf16, seeds stacked
    sgt-course claims --profile cpu   # every claim the image notebooks assert, over seeds
    sgt-course gpu-check              # every GPU figure: step costs, memory, speed-ups, reproduce, notebooks
    sgt-course cache export class.tar # a prepared cache as one archive; `cache import` adds it, checked

The last seven have their own options (``sgt-course bench --help``); each is a module of
:mod:`sgt_course.tools` with a ``main(argv)``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sgt_course.recipes import PROFILE_ENV, PROFILES, default_profile_name
from sgt_course.runtime import CACHE_ENV
from sgt_course.static_explorers import STATIC_ENV
from sgt_course.tools import notebook_files
from sgt_course.tools.headless import CELL_TIMEOUT, execute
from sgt_course.tools.run_records import EXECUTED_ENV

#: A Chromium binary for the browser tests in e2e/, where it is not Debian's on the PATH.
CHROMIUM_ENV = "SGT_COURSE_CHROMIUM"

# Commands with their own parser: name -> (module of sgt_course.tools, help). Imported when called, so
# that `sgt-course lab` does not load the training code.
OWN_PARSERS = {
    "reproduce": ("reproduce", "train and evaluate the paper-size experiments"),
    "bench": ("bench", "step costs, widget latency, memory and notebook wall times, each beside its target"),
    "step-cost": ("step_cost", "what one SGT and one ASGT step cost against the steps they extend"),
    "speed-levers": ("speed_levers", "where a training step's time goes, and what each speed lever would gain"),
    "claims": ("claims", "every quantity the image notebooks assert, over several seeds"),
    "cache": ("cache_archive", "the checkpoint cache: info, export to one archive, import one (checked)"),
    "gpu-check": ("gpu_check", "every GPU figure in one command: step costs, memory, speed-ups, reproduce, notebooks"),
}


def _lab(args: argparse.Namespace) -> int:
    folder = notebook_files.repo_root() / "notebooks"
    print(f"Starting JupyterLab on {folder} (Ctrl+C to stop)")
    return subprocess.call([sys.executable, "-m", "jupyterlab", f"--notebook-dir={folder}", *args.extra])


def _run(args: argparse.Namespace) -> int:
    root = notebook_files.repo_root()
    notebooks = [Path(p).resolve() for p in args.notebooks] or notebook_files.course_notebooks(root / "notebooks")
    missing = [str(p) for p in notebooks if not p.is_file()]
    if missing:
        print(f"no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 2
    output = Path(args.output or root / "runs" / args.profile)
    print(f"Executing {len(notebooks)} notebook(s) in the {args.profile!r} profile; results go to {output}/")
    results, start = [], time.perf_counter()
    for notebook in notebooks:
        result = execute(notebook, output / notebook.name, profile=args.profile, timeout=args.timeout)
        status = "ok" if result.error is None else f"FAILED: {result.error}"
        figure = f"{result.first_figure:8.1f} s" if result.first_figure is not None else f"{'none':>10}"
        print(f"  {result.notebook:<40} {result.seconds:8.1f} s  first figure {figure}  {status}", flush=True)
        results.append(result)
    failed = [r for r in results if r.error]
    print(f"  {'total':<40} {time.perf_counter() - start:8.1f} s  "
          f"{len(results) - len(failed)} ok, {len(failed)} failed")
    if sys.platform != "win32":
        import resource

        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20  # KiB on Linux
        print(f"  peak RSS of a notebook's kernel: {peak:.2f} GiB")
    return 1 if failed else 0


def _prepare(args: argparse.Namespace) -> int:
    from sgt_course.tools.prepare import prepare

    root = notebook_files.repo_root()
    notebooks = notebook_files.course_notebooks(root / "notebooks")
    executed = Path(args.output or root / "runs" / args.profile)
    done = prepare(args.profile, notebooks, executed, timeout=args.timeout)
    for name, error in done.failed.items():
        print(f"  {name} FAILED: {error}", file=sys.stderr)
    print(f"prepared the {args.profile!r} class in {done.seconds / 60:.1f} min: {len(done.executed)} notebook(s) "
          f"executed, {len(done.skipped)} already prepared, {len(done.failed)} failed; the cache holds {done.cache}. "
          f"Hand it to the students with `sgt-course cache export class.tar`.")
    return 1 if done.failed else 0


def _ensure_chromium() -> None:
    """The browser tests (e2e/) need Debian's Chromium: install it when it is missing and this is a
    Debian machine where we are root (as in CI); otherwise say that those tests will be skipped."""
    if os.environ.get(CHROMIUM_ENV) or shutil.which("chromium") or shutil.which("chromium-browser"):
        return
    if not (shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0):
        print("Chromium not found, and installing it needs apt-get as root: the browser tests in e2e/ will be "
              "skipped (install Debian's `chromium` package to run them)", flush=True)
        return
    print("Installing Debian's chromium for the browser tests (apt-get, about a minute) ...", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.call(["apt-get", "update", "-qq"], env=env) or subprocess.call(
            ["apt-get", "install", "-y", "-qq", "chromium"], env=env, stdout=subprocess.DEVNULL):
        print("apt-get could not install chromium: the browser tests in e2e/ will be skipped", flush=True)


def _test(args: argparse.Namespace) -> int:
    root = notebook_files.repo_root()
    if not args.pytest_args or any(a.startswith("e2e") for a in args.pytest_args):
        _ensure_chromium()
    env = dict(os.environ, MPLBACKEND="Agg", **{PROFILE_ENV: args.profile})
    if not args.keep_cache:
        # A fresh cache: the notebooks must train what they use, not load a stale model.
        env[CACHE_ENV] = tempfile.mkdtemp(prefix="sgt-course-test-")
    # nbval's executed notebooks are kept there (notebooks/conftest.py): e2e/ builds the website from them.
    env.setdefault(EXECUTED_ENV, tempfile.mkdtemp(prefix="sgt-course-executed-"))
    # ... and, like every headless run, they draw their explorers' static twins, which the site then shows.
    env[STATIC_ENV] = "1"
    # --durations: the log names the slowest tests, so a CI run that creeps towards its limit says where.
    # A cell gets 10 minutes (the slowest takes under 2 in ci): a kernel that stops answering (seen once
    # in about forty notebook runs) then fails its cell instead of eating CI's whole time limit.
    command = [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "--nbval-cell-timeout=600",
               "-p", "no:cacheprovider", "--durations=15", *(args.pytest_args or ["tests", "notebooks", "e2e"])]
    print(f"profile={args.profile} cache={env.get(CACHE_ENV, '(default)')} executed={env[EXECUTED_ENV]}")
    print("$ " + " ".join(command), flush=True)
    return subprocess.call(command, cwd=root, env=env)


def _sync(args: argparse.Namespace) -> int:
    folder = notebook_files.repo_root() / "notebooks"
    if args.check:
        problems = notebook_files.unsynced_pairs(folder)
        for problem in problems:
            print(problem)
        return 1 if problems else 0
    for path in notebook_files.sync(folder):
        print(f"wrote {path.relative_to(folder.parent)}")
    return 0


def _exercises(args: argparse.Namespace) -> int:
    folder = notebook_files.repo_root() / "notebooks"
    written = notebook_files.write_student_versions(folder)
    for path in written:
        print(f"wrote {path.relative_to(folder.parent)}")
    if args.check and written:
        print("the student notebooks were out of date; commit the files above")
        return 1
    return 0


def _slides(args: argparse.Namespace) -> int:
    from sgt_course.tools import slides  # nbconvert and its exporters, loaded for this command only

    root = notebook_files.repo_root()
    source = Path(args.source) if args.source else root / "slides" / "deck.py"
    output = Path(args.output) if args.output else root / "slides" / "build"
    print(f"Building the deck {source.name} in the {args.profile!r} profile (figures from the cached models; "
          "the first build trains them) ...", flush=True)
    try:
        deck = slides.build(source, output, profile=args.profile, timeout=args.timeout)
    except RuntimeError as error:
        print(f"sgt-course slides: {error}", file=sys.stderr)
        return 1
    print(f"wrote {deck.html}: {deck.slides} slides, {deck.figures} figures, cells ran {deck.seconds:.1f} s. Open it in a browser "
          "(it needs no network); press S for the speaker view.")
    return 0


def _site(args: argparse.Namespace) -> int:
    from sgt_course.tools import site  # Sphinx and MyST-NB, loaded for this command only

    root = notebook_files.repo_root()
    output = Path(args.output) if args.output else root / "site"
    executed = Path(args.executed) if args.executed else root / "runs" / args.profile
    try:
        built = site.build(args.profile, output, executed=executed, work=root / "runs" / f"site-{args.profile}",
                           fresh=args.fresh, timeout=args.timeout)
    except site.SiteError as error:
        print(f"sgt-course site: {error}", file=sys.stderr)
        return 1
    for warning in built.warnings:
        print(f"  sphinx: {warning}")
    print(f"Open {built.index} in a browser (it needs no network). To publish it, serve the folder as it is, "
          "e.g. on GitHub Pages (README: 'The course website').")
    return 0


def _profile_option(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--profile", choices=tuple(PROFILES), default=default_profile_name(),
                        help=f"run profile of {what} (default: ${PROFILE_ENV}, else gpu with CUDA and cpu without)")


#: Seconds a cell may run under ``prepare``: from an empty cache, notebook 6's study of three seeds trains
#: fifteen robust models to a plateau in one cell, which took more than CELL_TIMEOUT in the cpu profile.
PREPARE_CELL_TIMEOUT = 4 * 3600


def _timeout_option(parser: argparse.ArgumentParser, default: int = CELL_TIMEOUT) -> None:
    parser.add_argument("--timeout", type=int, default=default, help=f"seconds allowed per cell (default: {default})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sgt-course", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    lab = sub.add_parser("lab", help="start JupyterLab on the course's notebooks")
    lab.add_argument("extra", nargs=argparse.REMAINDER, help="further arguments for jupyter lab")
    lab.set_defaults(handler=_lab)

    run = sub.add_parser("run", help="execute the notebooks headlessly and print each one's wall time")
    run.add_argument("notebooks", nargs="*", help="notebooks to run (default: all, in course order)")
    _profile_option(run, "the notebooks")
    run.add_argument("--output", help="folder for the executed notebooks (default: runs/<profile>/)")
    _timeout_option(run)
    run.set_defaults(handler=_run)

    prep = sub.add_parser("prepare", help="train and cache every model the notebooks, the deck and the site use, "
                                          "ahead of a class (resumable)")
    _profile_option(prep, "the class")
    prep.add_argument("--output", help="folder for the executed notebooks (default: runs/<profile>/, which the "
                                       "site reuses)")
    _timeout_option(prep, PREPARE_CELL_TIMEOUT)
    prep.set_defaults(handler=_prepare)

    test = sub.add_parser("test", help="run the unit tests and every notebook under nbval")
    test.add_argument("--profile", choices=tuple(PROFILES), default="ci", help="run profile (default: ci)")
    test.add_argument("--keep-cache", action="store_true", help="reuse the checkpoint cache instead of a fresh one")
    test.add_argument("pytest_args", nargs=argparse.REMAINDER, help="paths or options for pytest (default: tests notebooks e2e)")
    test.set_defaults(handler=_test)

    sync = sub.add_parser("sync", help="regenerate notebooks/*.ipynb from their .py sources")
    sync.add_argument("--check", action="store_true", help="only report pairs that are out of sync")
    sync.set_defaults(handler=_sync)

    exercises = sub.add_parser("exercises", help="write notebooks/student/: the notebooks with solutions stubbed out")
    exercises.add_argument("--check", action="store_true", help="fail when a student notebook was out of date")
    exercises.set_defaults(handler=_exercises)

    deck = sub.add_parser("slides", help="build the seminar deck (reveal.js) from slides/deck.py")
    _profile_option(deck, "the figures")
    deck.add_argument("--source", help="the deck's source (default: slides/deck.py)")
    deck.add_argument("--output", help="folder for index.html and its assets (default: slides/build/)")
    _timeout_option(deck)
    deck.set_defaults(handler=_slides)

    web = sub.add_parser("site", help="build the course website: every notebook executed, as static HTML")
    _profile_option(web, "every page")
    web.add_argument("--output", help="folder for the HTML (default: site/)")
    web.add_argument("--executed", help="executed notebooks to reuse, and where new runs go (default: runs/<profile>/, "
                                        "shared with `sgt-course run`)")
    web.add_argument("--fresh", action="store_true", help="execute every notebook again, even where a run of the same "
                                                          "code in this profile exists")
    _timeout_option(web)
    web.set_defaults(handler=_site)

    for name, (_, summary) in OWN_PARSERS.items():
        sub.add_parser(name, help=f"{summary} (options: {name} --help)", add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] and argv[0] in OWN_PARSERS:
        module = importlib.import_module(f"sgt_course.tools.{OWN_PARSERS[argv[0]][0]}")
        return module.main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except FileNotFoundError as error:
        print(f"sgt-course: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
