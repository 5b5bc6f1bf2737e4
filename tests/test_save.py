"""``--save`` and ``Result.save``: files land where asked, never elsewhere, never over others.

The one-file case and ``--overwrite`` are in test_magic.py; provenance in test_store.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from IPython.core.error import UsageError
from PIL import Image

from .cells import run


def files(folder: Path) -> set[Path]:
    return {
        p for p in folder.rglob("*") if (p.is_file() or p.is_symlink()) and "store" not in p.parts
    }


def test_several_images_land_in_the_folder_and_nowhere_else(ip, sim, tmp_path):
    before = files(tmp_path)
    run(ip, f"-n 3 --save {tmp_path / 'set'}", "three cats")
    written = files(tmp_path) - before
    assert {p.relative_to(tmp_path).as_posix() for p in written} == {
        "set/banana-1.png", "set/banana-2.png", "set/banana-3.png"
    }  # fmt: skip
    for path in written:
        assert Image.open(path).size == (1024, 1024)


@pytest.mark.parametrize("overwrite", [False, True], ids=["numbered-on", "overwrite"])
def test_a_link_planted_in_the_folder_is_never_written_through(ip, sim, tmp_path, overwrite):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.png").write_bytes(b"precious")
    folder = tmp_path / "set"
    folder.mkdir()
    (folder / "banana-1.png").symlink_to(outside / "victim.png")
    (folder / "banana-2.png").symlink_to(outside / "new.png")  # dangling: would create it
    line = f"-n 2 --save {folder}" + (" --overwrite" if overwrite else "")
    if overwrite:
        run(ip, line, "two cats")
        assert not (folder / "banana-1.png").is_symlink()
        assert Image.open(folder / "banana-2.png").size == (1024, 1024)
    else:  # a folder numbers on past what is there, links included
        run(ip, line, "two cats")
        assert (folder / "banana-1.png").is_symlink() and (folder / "banana-2.png").is_symlink()
        assert Image.open(folder / "banana-3.png").size == (1024, 1024)
        assert Image.open(folder / "banana-4.png").size == (1024, 1024)
    assert (outside / "victim.png").read_bytes() == b"precious"
    assert sorted(p.name for p in outside.iterdir()) == ["victim.png"]


def test_one_clash_among_several_writes_nothing(ip, sim, tmp_path):
    folder = tmp_path / "set"
    folder.mkdir()
    (folder / "poster-2.png").write_bytes(b"precious")
    with pytest.raises(UsageError, match=r"poster-2\.png already exists"):
        run(ip, f"-n 2 --save {folder / 'poster.png'}", "two cats")
    assert sorted(p.name for p in folder.iterdir()) == ["poster-2.png"]
    assert (folder / "poster-2.png").read_bytes() == b"precious"


def test_a_save_that_fails_is_one_line_and_keeps_the_result(ip, sim, tmp_path):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file, not a folder")
    target = blocker / "cat.png"
    with pytest.raises(UsageError) as info:
        run(ip, f"-c cats --save {target}", "a cat")
    assert str(info.value) == (
        f"Could not save to {target} (FileExistsError: File exists); the images are still in "
        "the result (_banana): save them with .save(PATH)."
    )
    result = ip.user_ns["_banana"]
    assert result.request.text == "a cat"
    (saved,) = result.save(tmp_path / "cat.png")
    assert Image.open(saved).size == (1024, 1024)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "store") == [
        "cat.png",
        "notes.txt",
    ]


def test_a_dangling_link_counts_as_an_existing_file(ip, sim, tmp_path):
    (tmp_path / "cat.png").symlink_to(tmp_path / "elsewhere" / "cat.png")
    with pytest.raises(UsageError, match=r"cat\.png already exists.*--overwrite"):
        run(ip, f"--save {tmp_path / 'cat.png'}", "a cat")
    assert not (tmp_path / "elsewhere").exists()
    assert (tmp_path / "cat.png").is_symlink()
