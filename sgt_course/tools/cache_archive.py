"""Move a prepared checkpoint cache to other machines: one archive out, checked on the way in.

    sgt-course cache info                     # where the cache is, how many checkpoints, how big
    sgt-course cache export class.tar         # every checkpoint of the cache, with a manifest
    sgt-course cache import class.tar         # on a student's machine or Colab: checked, then added

An instructor prepares a class once (``sgt-course prepare``), exports the cache, and hands the archive to
the students (or uploads it to Colab); importing it spares every student the training. The archive is a
plain tar file holding ``manifest.json`` (the course version, and each checkpoint's name, size and
SHA-256) and ``checkpoints/<name>.pt``. Import checks everything before it touches the cache: a member
that is not a listed checkpoint, a path that leaves the archive's folder, a size or a hash that differs,
a file torch cannot read as weights, or an archive of another course version is refused with one line
that says why, and nothing is written. Checkpoints the cache already holds are kept as they are.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from sgt_course import __version__
from sgt_course.runtime import cache_dir

FORMAT = "sgt-course checkpoint cache, version 1"
MANIFEST = "manifest.json"


class ArchiveError(ValueError):
    """An archive that import refuses: corrupt, foreign, or of another course version."""


@dataclass(frozen=True)
class CacheSummary:
    """What a checkpoint folder holds."""

    folder: Path
    checkpoints: int
    bytes: int

    def __str__(self) -> str:
        return f"{self.checkpoints} checkpoint(s), {self.bytes / 2**20:.1f} MiB in {self.folder}"


def checkpoints_folder() -> Path:
    """The cache's checkpoint folder (``load_or_train`` writes there)."""
    return cache_dir() / "checkpoints"


def summary(folder: Path | None = None) -> CacheSummary:
    """How many checkpoints ``folder`` (default: the cache's) holds, and their size."""
    folder = folder or checkpoints_folder()
    files = sorted(folder.glob("*.pt")) if folder.is_dir() else []
    return CacheSummary(folder, len(files), sum(f.stat().st_size for f in files))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def export_cache(archive: Path, folder: Path | None = None) -> CacheSummary:
    """Write every checkpoint of ``folder`` (default: the cache's) and a manifest into the tar file
    ``archive``, through a temporary file renamed into place. Returns what was exported."""
    folder = folder or checkpoints_folder()
    files = sorted(folder.glob("*.pt")) if folder.is_dir() else []
    if not files:
        raise FileNotFoundError(f"no checkpoints to export in {folder}: prepare the class first "
                                f"(`sgt-course prepare --profile <p>`)")
    entries = []
    archive = Path(archive)
    handle = tempfile.NamedTemporaryFile(dir=archive.parent, suffix=".tmp", delete=False)
    try:
        with handle, tarfile.open(fileobj=handle, mode="w") as tar:
            for path in files:
                data = path.read_bytes()
                entries.append({"name": path.name, "bytes": len(data), "sha256": _sha256(data)})
                _add(tar, f"checkpoints/{path.name}", data)
            manifest = {"format": FORMAT, "version": __version__, "checkpoints": entries}
            _add(tar, MANIFEST, json.dumps(manifest, indent=1).encode())
        os.replace(handle.name, archive)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return CacheSummary(archive, len(entries), archive.stat().st_size)


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def _read_archive(archive: Path) -> dict[str, bytes]:
    """Every checkpoint of ``archive`` by name, checked against its manifest; raises ArchiveError."""
    if not Path(archive).is_file():
        raise ArchiveError(f"{archive} does not exist or is not a file")
    try:
        tar = tarfile.open(archive, mode="r:")  # export writes a plain tar
    except (tarfile.TarError, OSError):
        raise ArchiveError(f"{archive} is not a checkpoint archive of this course (not a tar file)") from None
    with tar:
        members = {}
        try:
            for member in tar.getmembers():
                if not member.isfile():
                    raise ArchiveError(f"{archive} holds {member.name!r}, which is not a plain file")
                reader = tar.extractfile(member)
                members[member.name] = reader.read() if reader else b""
        except (tarfile.TarError, OSError, EOFError) as error:
            why = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise ArchiveError(f"{archive} is damaged ({why})") from None
    if MANIFEST not in members:
        raise ArchiveError(f"{archive} has no {MANIFEST}: not a checkpoint archive of this course")
    try:
        manifest = json.loads(members.pop(MANIFEST))
    except ValueError:
        raise ArchiveError(f"{archive}'s {MANIFEST} is not JSON") from None
    if manifest.get("format") != FORMAT:
        raise ArchiveError(f"{archive} is not a checkpoint archive of this course (format {manifest.get('format')!r})")
    if manifest.get("version") != __version__:
        raise ArchiveError(f"{archive} was made by sgt-course {manifest.get('version')}; this is {__version__}, "
                           f"whose cache keys differ: prepare the class again with this version")
    listed = {entry["name"]: entry for entry in manifest.get("checkpoints", [])}
    checkpoints = {}
    for name, data in members.items():
        folder, _, file = name.partition("/")
        if folder != "checkpoints" or file not in listed or "/" in file or not file.endswith(".pt"):
            raise ArchiveError(f"{archive} holds {name!r}, which its manifest does not list as a checkpoint")
        checkpoints[file] = data
    for file, entry in listed.items():
        data = checkpoints.get(file)
        if data is None:
            raise ArchiveError(f"{archive} lacks {file}, which its manifest lists")
        if len(data) != entry["bytes"] or _sha256(data) != entry["sha256"]:
            raise ArchiveError(f"{archive}'s {file} does not match its manifest (damaged in transfer?)")
        try:
            torch.load(io.BytesIO(data), weights_only=True)
        except Exception as error:  # any unreadable file: refuse the archive
            raise ArchiveError(f"{archive}'s {file} is not a readable checkpoint ({type(error).__name__})") from None
    return checkpoints


def import_cache(archive: Path, folder: Path | None = None) -> tuple[int, int]:
    """Check ``archive`` whole, then add its checkpoints to ``folder`` (default: the cache's), each written
    to a temporary file and renamed into place; checkpoints already there are kept. Returns (added, kept).

    Raises:
        ArchiveError: the archive is damaged, foreign or of another version; nothing was written.
    """
    checkpoints = _read_archive(Path(archive))
    folder = folder or checkpoints_folder()
    folder.mkdir(parents=True, exist_ok=True)
    added = kept = 0
    for name, data in sorted(checkpoints.items()):
        target = folder / name
        if target.exists():
            kept += 1
            continue
        handle = tempfile.NamedTemporaryFile(dir=folder, suffix=".tmp", delete=False)
        try:
            with handle:
                handle.write(data)
            os.replace(handle.name, target)
        except BaseException:
            Path(handle.name).unlink(missing_ok=True)
            raise
        added += 1
    return added, kept


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sgt-course cache", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("info", help="where the cache is and what it holds")
    commands.add_parser("export", help="write every checkpoint to one archive").add_argument("file", type=Path)
    commands.add_parser("import", help="add the checkpoints of an archive").add_argument("file", type=Path)
    args = parser.parse_args(argv)
    if args.command == "info":
        print(summary())
        return 0
    if args.command == "export":
        try:
            written = export_cache(args.file)
        except (FileNotFoundError, OSError) as error:
            print(error, file=sys.stderr)
            return 1
        print(f"exported {written.checkpoints} checkpoint(s) from {checkpoints_folder()} to {args.file} "
              f"({written.bytes / 2**20:.1f} MiB)")
        return 0
    try:
        added, kept = import_cache(args.file)
    except ArchiveError as error:
        print(f"refused: {error}; the cache is unchanged", file=sys.stderr)
        return 1
    except OSError as error:  # reading the file, or writing into the cache (a full disk)
        print(f"could not import {args.file}: {error}; the checkpoints the cache held are untouched",
              file=sys.stderr)
        return 1
    print(f"imported {args.file}: {added} checkpoint(s) added, {kept} already there; now {summary()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
