#!/usr/bin/env python3
"""Set up the course in ./.venv and run it: the only file you need to start.

    python3 course.py lab                 # install (first time) and start JupyterLab on notebooks/
    python3 course.py run --profile cpu   # install and execute every notebook, printing wall times
    python3 course.py test                # install and run the tests (what CI runs)

Any other arguments go to the `sgt-course` command inside the environment. Uses only the standard
library, so it runs before anything is installed. The environment is rebuilt when pyproject.toml or
constraints.txt change.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("SGT_COURSE_VENV", ROOT / ".venv"))
SPEC = ("pyproject.toml", "constraints.txt")


def _bin(name: str) -> Path:
    folder = VENV / ("Scripts" if os.name == "nt" else "bin")
    return folder / (name + (".exe" if os.name == "nt" else ""))


def _fingerprint() -> str:
    digest = hashlib.sha256(sys.version.encode())
    for name in SPEC:
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def ensure_environment() -> None:
    """Create .venv and install the course into it, unless it is already up to date."""
    stamp = VENV / ".sgt-course-installed"
    if stamp.exists() and stamp.read_text() == _fingerprint() and _bin("sgt-course").exists():
        return
    if sys.version_info < (3, 10):
        sys.exit(f"sgt-course needs Python >= 3.10; this is {sys.version.split()[0]}")
    print(f"Setting up the course environment in {VENV} (first time: a few minutes) ...", flush=True)
    if not _bin("python").exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    pip = [str(_bin("python")), "-m", "pip", "install", "--disable-pip-version-check"]
    subprocess.run([*pip, "-q", "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-c", str(ROOT / "constraints.txt"), "-e", f"{ROOT}[course,test]"], check=True)
    stamp.write_text(_fingerprint())


def main() -> int:
    ensure_environment()
    args = sys.argv[1:] or ["lab"]
    return subprocess.call([str(_bin("sgt-course")), *args], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
