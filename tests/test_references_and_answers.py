"""Every notebook ends with References (arXiv links), its in-text citations and its entries match, and
every Question has a collapsed answer in the solution notebook and none in the student version."""
import re

import nbformat
import pytest

from tests.notebook_tools import STUDENTS, read
from tools import release

SOLUTIONS = release.solution_notebooks()

# "He et al., 2015", "He et al. (2015, Figure 1)", "He et al. 2015b", "Ioffe & Szegedy, 2015", "Glorot & Bengio (2010)"
# "He et al., 2015", "Wu & Johnson, 2021", "Mavi, 2020" (one author: the comma is needed)
CITATION = re.compile(r"\b([A-Z][a-z]+)(?:(?:\set\sal\.|\s&\s[A-Z][a-z]+),?\s|,\s)\(?(\d{4}[a-z]?)\b")
# "- He, K., Zhang, X., Ren, S., Sun, J. (2015). *Title*. ... [arXiv:1512.03385](https://arxiv.org/abs/1512.03385)"
ENTRY = re.compile(r"^- ([A-Z][a-z]+), .*?\((\d{4}[a-z]?)\)\.", re.M)
ANSWER_OPEN = "<details><summary>Answer</summary>"


def markdown(nb):
    return [c.source for c in nb.cells if c.cell_type == "markdown"]


def references_cell(nb):
    cells = [s for s in markdown(nb) if s.startswith("## References")]
    assert len(cells) == 1, "one Markdown cell starting with '## References'"
    return cells[0]


def entries(text: str) -> list[tuple[str, str]]:
    return ENTRY.findall(text)


def citations(texts) -> set[tuple[str, str]]:
    return {m for text in texts for m in CITATION.findall(text)}


def questions(text: str) -> list[str]:
    """The numbered items after **Questions**, each with what follows it up to the next item."""
    part = text.split("**Questions**", 1)[1]
    return re.split(r"\n(?=\d+\. )", part.strip())


def questions_cell(nb):
    [cell] = [s for s in markdown(nb) if "**Questions**" in s]
    return cell


@pytest.mark.parametrize("path", SOLUTIONS + [STUDENTS / p.name for p in SOLUTIONS],
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_notebook_ends_with_references_with_arxiv_links(path):
    nb = read(path)
    texts = markdown(nb)
    refs = references_cell(nb)
    assert nb.cells[-1].source == refs, "References is the last cell (with the navigation line)"
    remember = [i for i, c in enumerate(nb.cells) if "## What you should remember" in c.source]
    assert remember and remember[-1] < len(nb.cells) - 1, "References come after 'What you should remember'"
    items = [line for line in refs.split("\n") if line.startswith("- ")]
    assert items and len(items) == len(entries(refs)), f"every entry reads '- Surname, I. ... (year). ...': {items}"
    assert "https://arxiv.org/abs/" in refs
    for block in refs.split("\n- ")[1:]:
        assert re.search(r"\]\(https://", block), f"an entry without a link: {block[:60]}"
    assert texts[-1].rstrip().split("\n")[-1].startswith("["), "the navigation line ends the notebook"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_in_text_citations_and_reference_entries_match(path):
    nb = read(path)
    refs = references_cell(nb)
    listed = entries(refs)
    assert len(set(listed)) == len(listed), f"two entries with the same author and year: {listed}"
    cited = citations(t for t in markdown(nb) if t != refs)
    assert cited - set(listed) == set(), f"cited but not in References: {sorted(cited - set(listed))}"
    assert set(listed) - cited == set(), f"in References but never cited: {sorted(set(listed) - cited)}"


def test_the_papers_have_their_arxiv_numbers_everywhere():
    """One paper, one key: the same author and year always link the same arXiv number."""
    known = {}
    for path in SOLUTIONS:
        for block in references_cell(read(path)).split("\n- ")[1:]:
            [key] = entries("- " + block)
            link = re.search(r"\]\((https://[^)]+)\)", block).group(1)
            assert known.setdefault(key, link) == link, f"{key}: {link} here, {known[key]} elsewhere"
    assert known[("He", "2015")] == "https://arxiv.org/abs/1512.03385"
    assert known[("He", "2016")] == "https://arxiv.org/abs/1603.05027"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_every_question_has_a_collapsed_answer_in_the_solution(path):
    items = questions(questions_cell(read(path)))
    assert len(items) >= 3
    for item in items:
        assert item.count(ANSWER_OPEN) == 1 and item.rstrip().endswith("</details>"), f"no answer: {item[:80]}"
        answer = item.split(ANSWER_OPEN, 1)[1].rsplit("</details>", 1)[0]
        assert len(answer.split()) >= 15, f"an answer of a few words: {item[:80]}"


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_student_notebooks_have_the_questions_without_answers(path):
    student = read(STUDENTS / path.name)
    text = "\n".join(markdown(student))
    assert "<details" not in text and "Answer</summary>" not in text
    asked = [item.split("\n")[0] for item in questions(questions_cell(read(path)))]
    assert [item.split("\n")[0] for item in questions(questions_cell(student))] == asked


def test_citations_are_found_across_line_breaks():
    assert citations(["(He et al.,\n2016) and Ioffe & Szegedy (2015), He et al. 2015b"]) == {
        ("He", "2016"), ("Ioffe", "2015"), ("He", "2015b")}


def test_strip_answers_keeps_the_questions():
    text = ("**Questions**\n1. Why?\n\n<details><summary>Answer</summary>\n\nBecause.\n\n</details>\n\n"
            "2. How?\n\n<details><summary>Answer</summary>\n\nSo.\n\n</details>\n")
    assert release.strip_answers(text) == "**Questions**\n1. Why?\n\n2. How?\n"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(text)])
    assert "Because" not in release.release(nb, folder=None).cells[0].source
