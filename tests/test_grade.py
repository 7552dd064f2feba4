"""The instructor's grading command: one row per student and exercise, whatever the submission does."""
import csv

import nbformat

from tools import grade, release
from tests.notebook_tools import NOTEBOOKS, STUDENTS, read, tagged

NAME = "02_identity_block"


def submission(edit_region=None, drop_check=False):
    nb = read(STUDENTS / f"{NAME}.ipynb")
    [(_, cell)] = tagged(nb, "graded", "identity_block")
    sol = read(NOTEBOOKS / f"{NAME}.ipynb")
    [(_, sol_cell)] = tagged(sol, "graded", "identity_block")
    cell.source = release.fill_graded(cell.source, sol_cell.source)
    if edit_region:
        cell.source = cell.source.replace("    ### END CODE HERE ###", f"    {edit_region}\n    ### END CODE HERE ###")
    if drop_check:
        nb.cells = [c for c in nb.cells if "check_identity_block(" not in c.source]
    return nbformat.writes(nb)


def test_grading_a_class(tmp_path):
    subs = tmp_path / "submissions"
    for student, text in {
        "ada": submission(),
        "bob": submission(edit_region="while True: pass"),
        "cy": submission(edit_region="raise RuntimeError('my block is broken')"),
        "dee": submission(drop_check=True),
    }.items():
        (subs / student).mkdir(parents=True)
        (subs / student / f"{NAME}.ipynb").write_text(text)
    (subs / "eve_02_identity_block.ipynb").write_text('{"cells": [ this is not json')

    assert grade.main([str(subs), "--out", str(tmp_path / "out"), "--cell-timeout", "20", "--timeout", "300"]) == 0
    rows = {r["student"]: r for r in csv.DictReader(open(tmp_path / "out" / "results.csv"))}
    assert set(rows) == {"ada", "bob", "cy", "dee", "eve"}
    assert all(r["exercise"] == "identity_block" for r in rows.values())
    assert rows["ada"]["status"] == "pass"
    assert rows["bob"]["status"] == "timeout"
    assert rows["cy"]["status"] == "fail" and "my block is broken" in rows["cy"]["detail"]
    assert rows["dee"]["status"] == "missing" and "deleted" in rows["dee"]["detail"]
    assert rows["eve"]["status"] == "error" and "not a valid notebook" in rows["eve"]["detail"]
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "| ada | 02_identity_block | identity_block | PASS |" in summary
    assert "1 of 5 exercises passed." in summary


def test_an_empty_folder_is_reported(tmp_path, capsys):
    assert grade.main([str(tmp_path)]) == 2
    assert "no submissions found" in capsys.readouterr().out
