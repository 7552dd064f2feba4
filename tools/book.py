"""Build the course as a static book, readable offline: python -m tools.book -> build/book/index.html

The solution notebooks are shown with their stored outputs (never executed) by Sphinx, myst-nb and
sphinx-book-theme; the settings and the contents page are in book/. The notebooks are staged in
build/book-src/ beside copies of images/, so that their relative image links resolve, and their
"Contents" link (README.md in the repository) points at the book's contents page.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from tools.release import solution_notebooks

REPO = Path(__file__).resolve().parent.parent
SETTINGS = REPO / "book"
STAGE = REPO / "build" / "book-src"
OUT = REPO / "build" / "book"


def _write_if_changed(path: Path, data: bytes) -> None:
    # Unchanged files keep their time stamps, so Sphinx rebuilds only the pages that changed.
    if not path.exists() or path.read_bytes() != data:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def stage(notebooks: list[Path] | None = None, stage_dir: Path = STAGE) -> Path:
    """Lay out the book's sources: contents page, notebooks (README links -> contents), images."""
    wanted = {"index.md"}
    _write_if_changed(stage_dir / "index.md", (SETTINGS / "index.md").read_bytes())
    for path in notebooks or solution_notebooks():
        text = path.read_text().replace("](../README.md)", "](../index.md)")
        _write_if_changed(stage_dir / "notebooks" / path.name, text.encode())
        wanted.add(f"notebooks/{path.name}")
    for image in sorted((REPO / "images").iterdir()):
        if image.is_file():
            _write_if_changed(stage_dir / "images" / image.name, image.read_bytes())
            wanted.add(f"images/{image.name}")
    for old in stage_dir.rglob("*"):
        if old.is_file() and old.relative_to(stage_dir).as_posix() not in wanted:
            old.unlink()     # a notebook or image removed from the course leaves the book too
    return stage_dir


def build(out: Path = OUT, notebooks: list[Path] | None = None, stage_dir: Path = STAGE) -> Path:
    """Build the HTML book into ``out``; raise on any Sphinx warning (a broken link or image)."""
    from sphinx.cmd.build import build_main

    source = stage(notebooks, stage_dir)
    doctrees = stage_dir.parent / (stage_dir.name + "-doctrees")
    status = build_main(["-b", "html", "-q", "-W", "--keep-going", "-c", str(SETTINGS), "-d", str(doctrees),
                         str(source), str(out)])
    if status:
        raise RuntimeError(f"the book did not build (Sphinx exit status {status}): see the warnings above")
    return out / "index.html"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Build the course book (static HTML, offline).")
    parser.add_argument("--out", type=Path, default=OUT, help=f"output folder (default {OUT.relative_to(REPO)})")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        index = build(args.out)
    except RuntimeError as e:
        print(f"book: {e}")
        return 1
    print(f"book: {index} ({time.monotonic() - started:.0f} s); open it in a browser, or copy "
          f"{args.out} to any static web host")
    return 0


if __name__ == "__main__":
    sys.exit(main())
