"""A prepared cache moves as one archive; a damaged, foreign or other-version archive is refused whole."""

import io
import json
import tarfile

import pytest
import torch

from sgt_course.tools import cache_archive
from sgt_course.tools.cache_archive import ArchiveError, export_cache, import_cache, summary


def checkpoint(value: float) -> bytes:
    buffer = io.BytesIO()
    torch.save({"state_dict": {"w": torch.full((3,), value)}, "history": {}}, buffer)
    return buffer.getvalue()


@pytest.fixture
def prepared(tmp_path):
    folder = tmp_path / "teacher" / "checkpoints"
    folder.mkdir(parents=True)
    for i in range(3):
        (folder / f"mnist5k-small_cnn-standard-{i:012x}.pt").write_bytes(checkpoint(i))
    archive = tmp_path / "class.tar"
    exported = export_cache(archive, folder)
    assert exported.checkpoints == 3 and archive.stat().st_size == exported.bytes
    return folder, archive


def test_an_exported_cache_imports_byte_for_byte_and_keeps_what_is_there(prepared, tmp_path):
    folder, archive = prepared
    student = tmp_path / "student" / "checkpoints"
    student.mkdir(parents=True)
    own = student / "mnist5k-small_cnn-standard-000000000000.pt"
    own.write_bytes(checkpoint(7.0))  # the same name, the student's own file: kept
    assert import_cache(archive, student) == (2, 1)
    assert own.read_bytes() == checkpoint(7.0)
    assert sorted(p.name for p in student.iterdir()) == sorted(p.name for p in folder.iterdir())
    for path in folder.iterdir():
        if path.name != own.name:
            assert (student / path.name).read_bytes() == path.read_bytes()
    assert import_cache(archive, student) == (0, 3), "importing twice adds nothing"
    assert summary(student).checkpoints == 3


def _rewrite(archive, path, change):
    """A copy of ``archive`` at ``path`` whose members went through ``change(name, data) -> [(name, data)]``."""
    with tarfile.open(archive) as tar:
        members = [(m.name, tar.extractfile(m).read()) for m in tar.getmembers()]
    with tarfile.open(path, "w") as tar:
        for name, data in members:
            for new_name, new_data in change(name, data):
                info = tarfile.TarInfo(new_name)
                info.size = len(new_data)
                tar.addfile(info, io.BytesIO(new_data))
    return path


def _written(path, data):
    path.write_bytes(data)
    return path


def _manifest(edit):
    def change(name, data):
        if name != "manifest.json":
            return [(name, data)]
        manifest = json.loads(data)
        edit(manifest)
        return [(name, json.dumps(manifest).encode())]
    return change


def _only(fragment, change):
    """Apply ``change(name, data) -> [(name, data)]`` to the checkpoint whose name holds ``fragment``."""
    return lambda name, data: change(name, data) if fragment in name and name.endswith(".pt") else [(name, data)]


BROKEN = {
    "not a tar": (lambda archive, path: _written(path, b"PK\x03\x04 a zip, say"), "not a tar file"),
    "truncated": (lambda archive, path: _written(path, archive.read_bytes()[:3000]), "damaged|not a tar file"),
    "no manifest": (lambda a, p: _rewrite(a, p, lambda n, d: [] if n == "manifest.json" else [(n, d)]), "no manifest"),
    "foreign format": (lambda a, p: _rewrite(a, p, _manifest(lambda m: m.update(format="other"))), "format 'other'"),
    "other version": (lambda a, p: _rewrite(a, p, _manifest(lambda m: m.update(version="0.0.1"))),
                      "made by sgt-course 0.0.1"),
    "flipped byte": (lambda a, p: _rewrite(a, p, _only("0000", lambda n, d: [(n, d[:-1] + bytes([d[-1] ^ 1]))])),
                     "does not match its manifest"),
    "unlisted file": (lambda a, p: _rewrite(a, p, _only("0001", lambda n, d: [(n, d), ("checkpoints/extra.pt", d)])),
                      "does not list"),
    "escaping path": (lambda a, p: _rewrite(a, p, _only("0001", lambda n, d: [("../" + n, d)])), "does not list"),
    "missing file": (lambda a, p: _rewrite(a, p, _only("0002", lambda n, d: [])), "lacks"),
}


@pytest.mark.parametrize("fault", BROKEN)
def test_a_damaged_or_foreign_archive_is_refused_and_the_cache_is_untouched(prepared, tmp_path, fault):
    folder, archive = prepared
    make, message = BROKEN[fault]
    broken = make(archive, tmp_path / "broken.tar")
    student = tmp_path / "student" / "checkpoints"
    student.mkdir(parents=True)
    (student / "own.pt").write_bytes(b"the student's own")
    with pytest.raises(ArchiveError, match=message):
        import_cache(broken, student)
    assert [p.name for p in student.iterdir()] == ["own.pt"]
    assert (student / "own.pt").read_bytes() == b"the student's own"


def test_a_listed_file_that_is_not_a_checkpoint_is_refused(tmp_path):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    (folder / "x.pt").write_bytes(b"import os; os.system('no')")
    export_cache(tmp_path / "a.tar", folder)
    with pytest.raises(ArchiveError, match="x.pt is not a readable checkpoint"):
        import_cache(tmp_path / "a.tar", tmp_path / "student")


def test_the_command_says_what_it_did_and_refuses_in_one_line(prepared, tmp_path, monkeypatch, capsys):
    folder, archive = prepared
    monkeypatch.setenv("SGT_COURSE_CACHE", str(tmp_path / "cache"))
    assert cache_archive.main(["export", str(tmp_path / "none.tar")]) == 1
    assert "no checkpoints to export" in capsys.readouterr().err
    assert cache_archive.main(["import", str(archive)]) == 0
    assert "3 checkpoint(s) added, 0 already there; now 3 checkpoint(s)" in capsys.readouterr().out
    assert cache_archive.main(["info"]) == 0 and "3 checkpoint(s)" in capsys.readouterr().out
    assert cache_archive.main(["export", str(tmp_path / "again.tar")]) == 0
    assert "exported 3 checkpoint(s)" in capsys.readouterr().out
    (tmp_path / "junk.tar").write_bytes(b"junk")
    assert cache_archive.main(["import", str(tmp_path / "junk.tar")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("refused: ") and err.strip().endswith("the cache is unchanged") and len(err.splitlines()) == 1
