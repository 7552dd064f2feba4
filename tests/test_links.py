"""Every Markdown image and relative link of every notebook, solution and student, resolves: on disk,
and inside the folder that README's JupyterLab command serves (a link out of it is a 404 in the browser).
The student bundle's notebooks are checked the same way, inside the bundle."""
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from resnets_course.environment import FIGURE4_RESULT
from tests.notebook_tools import NOTEBOOKS, REPO, STUDENTS, read, readme_lab_command
from tools import release

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|(?:src|href)=\"([^\"]+)\"")


def links_in(text: str):
    """The relative links and images of Markdown ``text`` (or its HTML), as file paths."""
    for match in LINK.finditer(text):
        target = match.group(1) or match.group(2)
        if not re.match(r"^[a-z]+:", target) and not target.startswith("#"):
            yield unquote(target.split("#")[0])


def links(nb):
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            yield from links_in(cell.source)


def served_folder() -> Path:
    """The folder README's `jupyter lab` command serves: its path argument, else the folder it runs in."""
    words = readme_lab_command()
    after = words[words.index("lab") + 1:]
    paths = [w for w in after if not w.startswith("-")]
    return (REPO / paths[0]).resolve() if paths else REPO.resolve()


def broken_links(path: Path, root: Path) -> list[str]:
    """What links of a notebook or a Markdown file point at nothing, or outside ``root``."""
    problems = []
    for target in links_in(path.read_text()) if path.suffix == ".md" else links(read(path)):
        resolved = (path.parent / target).resolve()
        if not resolved.exists():
            problems.append(f"{target}: no such file ({resolved})")
        elif not resolved.is_relative_to(root):
            problems.append(f"{target}: outside the folder JupyterLab serves ({root})")
    return problems


NOTEBOOK_FILES = release.solution_notebooks() + sorted(STUDENTS.glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=lambda p: str(p.relative_to(NOTEBOOKS)))
def test_every_link_and_image_resolves_where_readme_serves_the_course(path):
    assert list(links(read(path))), "no links found: the link pattern is broken"
    assert broken_links(path, served_folder()) == []


DOCS = [REPO / "README.md", *sorted((REPO / "book" / "manual").glob("*.md"))]


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_readme_and_the_manual_link_to_files_that_exist_where_readme_serves_the_course(path):
    assert broken_links(path, served_folder()) == []


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_system_packages_install_as_root_and_with_sudo(path):
    """`sudo apt-get` fails as root where there is no sudo (a container); `$(command -v sudo) apt-get` works in both."""
    bare = [line for line in path.read_text().splitlines() if re.search(r"(?<!command -v )sudo apt-get", line)]
    assert bare == []


def test_images_are_linked_from_both_solution_and_student_notebooks():
    for name in ("02_identity_block", "03_convolutional_block", "05_resnet_family"):
        for folder in (NOTEBOOKS, STUDENTS):
            assert any(t.endswith(".png") for t in links(read(folder / f"{name}.ipynb"))), (folder, name)


def test_the_link_test_catches_a_link_out_of_the_served_folder(tmp_path):
    nb_path = tmp_path / "nb" / "x.ipynb"
    nb_path.parent.mkdir()
    (tmp_path / "pic.png").write_bytes(b"")
    import nbformat
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("![a](../pic.png) [b](missing.md)")]),
                   nb_path)
    problems = broken_links(nb_path, (tmp_path / "nb").resolve())
    assert len(problems) == 2 and "outside" in problems[0] and "no such file" in problems[1]


def code_of(path: Path) -> str:
    """A Python file without its strings: a check's hint may quote an equation; its code must not solve one."""
    import io
    import tokenize

    tokens = tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
    return tokenize.untokenize((t.type, "''" if t.type == tokenize.STRING else t.string) for t in tokens)


def test_the_student_bundle_has_working_links_and_no_results_or_solutions(tmp_path):
    bundle = tmp_path / "bundle"
    assert release.main(["--student-bundle", str(bundle)]) == 0
    notebooks = sorted((bundle / "notebooks").glob("*.ipynb"))
    assert [p.name for p in notebooks] == [p.name for p in release.solution_notebooks()]
    assert not list(bundle.rglob("*solution*")) and not (bundle / "notebooks" / "student").exists()
    # Its README lists every notebook (links that resolve in the bundle), says 02 and 03 go before 04, and the
    # licence is there.
    readme = bundle / "README.md"
    assert [t for t in links_in(readme.read_text()) if t.endswith(".ipynb")] == \
           [f"notebooks/{p.name}" for p in notebooks]
    assert "save those first" in readme.read_text() and (bundle / "LICENSE").read_text() == (REPO / "LICENSE").read_text()
    # Notebook 04 reads the real photographs: their files, their Apache licence and its notice travel too.
    real = bundle / "datasets" / "real"
    assert (real / "test_signs.h5").read_bytes() == (REPO / "datasets" / "real" / "test_signs.h5").read_bytes()
    assert "Apache License" in (real / "LICENSE").read_text() and "Copyright 2017 Arda Mavi" in (real / "README.md").read_text()
    assert len(list((real / "photos").glob("*/*.JPG"))) == len(list((REPO / "datasets" / "real" / "photos").glob("*/*.JPG")))
    # Notebook 05 plots the committed benchmark result: it travels with the bundle.
    assert (bundle / FIGURE4_RESULT.relative_to(REPO)).read_text() == FIGURE4_RESULT.read_text()
    for path in notebooks:
        assert broken_links(path, bundle.resolve()) == []
        nb = read(path)
        assert all(not c.outputs for c in nb.cells if c.cell_type == "code"), f"{path.name} stores outputs"
    solution_lines = set()
    # Code the course gives students (a first component written out, an example in the text) is no solution.
    given = {line.split("#")[0].strip() for path in notebooks for cell in read(path).cells
             for line in cell.source.split("\n")}
    for path in release.solution_notebooks():
        for cell in read(path).cells:
            if "graded" in cell.metadata.get("tags", []):
                for a, b in release.regions(cell.source):
                    solution_lines |= {line.split("#")[0].strip() for line in cell.source.split("\n")[a:b]
                                       if len(line.split("#")[0].strip()) > 12} - given
    assert solution_lines
    for file in bundle.rglob("*"):
        if file.is_file() and file.suffix in (".ipynb", ".py", ".json", ".md", ".txt", ".toml"):
            text = code_of(file) if file.suffix == ".py" else file.read_text()
            leaked = [line for line in solution_lines if line in text]
            assert not leaked, f"{file.relative_to(bundle)} holds solution code: {leaked[:3]}"
