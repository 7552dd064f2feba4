"""Build the course as a static book, readable offline: python -m tools.book -> build/book/index.html

The solution notebooks are shown with their stored outputs (never executed) by Sphinx, myst-nb and
sphinx-book-theme, followed by the manual (book/manual/, and bench/README.md as its performance notes);
the settings and the contents page are in book/. The notebooks are staged in
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


# The manual's links into the repository, written (in book/manual/) as they resolve in the repository, and what
# they become in the book: the performance notes are a chapter of it, images and notebooks are staged beside it.
REPOSITORY_LINKS = {"](../../bench/README.md": "](benchmark-notes.md", "](../../images/": "](../images/",
                    "](../../notebooks/": "](../notebooks/"}


def manual() -> dict[str, str]:
    """{file name: Markdown} of the manual's chapters as the book shows them (bench/README.md among them)."""
    chapters = {path.name: path.read_text() for path in sorted((SETTINGS / "manual").glob("*.md"))}
    chapters["benchmark-notes.md"] = (REPO / "bench" / "README.md").read_text().replace("](../README.md)", "](../index.md)")
    for name, text in chapters.items():
        for repository, book_link in REPOSITORY_LINKS.items():
            text = text.replace(repository, book_link)
        if "](../../" in text:
            raise RuntimeError(f"book/manual/{name} links into the repository where the book has no page: "
                               f"{text[text.index('](../../'):][:80]!r}; add it to tools.book.REPOSITORY_LINKS")
        chapters[name] = text
    return chapters


def stage(notebooks: list[Path] | None = None, stage_dir: Path = STAGE) -> Path:
    """Lay out the book's sources: contents page, notebooks (README links -> contents), images."""
    wanted = {"index.md"}
    _write_if_changed(stage_dir / "index.md", (SETTINGS / "index.md").read_bytes())
    for name, text in manual().items():
        _write_if_changed(stage_dir / "manual" / name, text.encode())
        wanted.add(f"manual/{name}")
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
    print(f"book: {index} ({time.monotonic() - started:.0f} s); serve it (python3 -m http.server -d {args.out} 8000, "
          f"then open http://localhost:8000: its search needs a server), or copy {args.out} to any static web host")
    return 0


if __name__ == "__main__":
    sys.exit(main())
