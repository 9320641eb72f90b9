"""The ``sgt-course`` command: start the course, run it headlessly, test it, keep notebooks in sync.

    sgt-course lab                    # JupyterLab on notebooks/
    sgt-course run --profile ci       # execute every notebook, print each one's wall time
    sgt-course test                   # unit tests + every notebook under nbval (ci profile)
    sgt-course sync                   # regenerate the .ipynb files from their .py sources
    sgt-course exercises              # regenerate notebooks/student/ (solutions replaced by stubs)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sgt_course import notebook_tools
from sgt_course.runtime import PROFILES


def _lab(args: argparse.Namespace) -> int:
    folder = notebook_tools.repo_root() / "notebooks"
    print(f"Starting JupyterLab on {folder} (Ctrl+C to stop)")
    return subprocess.call([sys.executable, "-m", "jupyterlab", f"--notebook-dir={folder}", *args.extra])


def _run(args: argparse.Namespace) -> int:
    root = notebook_tools.repo_root()
    notebooks = [Path(p).resolve() for p in args.notebooks] or notebook_tools.course_notebooks(root / "notebooks")
    missing = [str(p) for p in notebooks if not p.is_file()]
    if missing:
        print(f"no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 2
    output = Path(args.output or root / "runs" / args.profile)
    print(f"Executing {len(notebooks)} notebook(s) in the {args.profile!r} profile; results go to {output}/")
    results, start = [], time.perf_counter()
    for notebook in notebooks:
        result = notebook_tools.execute(notebook, output / notebook.name, profile=args.profile, timeout=args.timeout)
        status = "ok" if result.error is None else f"FAILED: {result.error}"
        print(f"  {result.notebook:<40} {result.seconds:8.1f} s  {status}", flush=True)
        results.append(result)
    failed = [r for r in results if r.error]
    print(f"  {'total':<40} {time.perf_counter() - start:8.1f} s  "
          f"{len(results) - len(failed)} ok, {len(failed)} failed")
    return 1 if failed else 0


def _test(args: argparse.Namespace) -> int:
    root = notebook_tools.repo_root()
    env = dict(os.environ, SGT_COURSE_PROFILE=args.profile, MPLBACKEND="Agg")
    if not args.keep_cache:
        # A fresh cache: the notebooks must train what they use, not load a stale model.
        env["SGT_COURSE_CACHE"] = tempfile.mkdtemp(prefix="sgt-course-test-")
    command = [sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-p", "no:cacheprovider",
               *(args.pytest_args or ["tests", "notebooks"])]
    print(f"profile={args.profile} cache={env.get('SGT_COURSE_CACHE', '(default)')}")
    print("$ " + " ".join(command), flush=True)
    return subprocess.call(command, cwd=root, env=env)


def _sync(args: argparse.Namespace) -> int:
    folder = notebook_tools.repo_root() / "notebooks"
    if args.check:
        problems = notebook_tools.unsynced_pairs(folder)
        for problem in problems:
            print(problem)
        return 1 if problems else 0
    for path in notebook_tools.sync(folder):
        print(f"wrote {path.relative_to(folder.parent)}")
    return 0


def _exercises(args: argparse.Namespace) -> int:
    folder = notebook_tools.repo_root() / "notebooks"
    written = notebook_tools.write_student_versions(folder)
    for path in written:
        print(f"wrote {path.relative_to(folder.parent)}")
    if args.check and written:
        print("the student notebooks were out of date; commit the files above")
        return 1
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sgt-course", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    lab = sub.add_parser("lab", help="start JupyterLab on the course's notebooks")
    lab.add_argument("extra", nargs=argparse.REMAINDER, help="further arguments for jupyter lab")
    lab.set_defaults(handler=_lab)

    run = sub.add_parser("run", help="execute the notebooks headlessly and print each one's wall time")
    run.add_argument("notebooks", nargs="*", help="notebooks to run (default: all, in course order)")
    run.add_argument("--profile", choices=tuple(PROFILES), default=os.environ.get("SGT_COURSE_PROFILE") or "cpu",
                     help="run profile (default: $SGT_COURSE_PROFILE or cpu)")
    run.add_argument("--output", help="folder for the executed notebooks (default: runs/<profile>/)")
    run.add_argument("--timeout", type=int, default=1800, help="seconds allowed per cell (default: 1800)")
    run.set_defaults(handler=_run)

    test = sub.add_parser("test", help="run the unit tests and every notebook under nbval")
    test.add_argument("--profile", choices=tuple(PROFILES), default="ci", help="run profile (default: ci)")
    test.add_argument("--keep-cache", action="store_true", help="reuse the checkpoint cache instead of a fresh one")
    test.add_argument("pytest_args", nargs=argparse.REMAINDER, help="paths or options for pytest (default: tests notebooks)")
    test.set_defaults(handler=_test)

    sync = sub.add_parser("sync", help="regenerate notebooks/*.ipynb from their .py sources")
    sync.add_argument("--check", action="store_true", help="only report pairs that are out of sync")
    sync.set_defaults(handler=_sync)

    exercises = sub.add_parser("exercises", help="write notebooks/student/: the notebooks with solutions stubbed out")
    exercises.add_argument("--check", action="store_true", help="fail when a student notebook was out of date")
    exercises.set_defaults(handler=_exercises)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except FileNotFoundError as error:
        print(f"sgt-course: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
