"""The judge on a small release of its own (no TensorFlow: a kernel starts in about a second).

The course's real notebooks are judged in test_contract.py (untouched and correct students) and
test_grade.py (a class with cheaters, stale outputs and prints)."""
import json

import nbformat
import pytest

from resnets_course import judge
from tests.notebook_tools import judged_cells

GRADED = '''def double(x):
    ### START CODE HERE ###
    y = None  # (≈1 line)
    ### END CODE HERE ###
    return y'''
CORRECT = GRADED.replace("y = None  # (≈1 line)", "y = 2 * x")
CELLS = [
    ("setup", None, "import os", []),
    ("graded", "double", GRADED, []),
    ("check", "double", 'print(f"double(2.5) = {double(2.5):.4f}")', [("stdout", "double(2.5) = 5.0000\n")]),
    ("check", "double", 'assert double(3) == 6, "double(3) should be 6"\nprint("All tests passed.")',
     [("stdout", "All tests passed.\n")]),
    ("check", "double", 'print("quick mode:", os.environ.get("RESNETS_QUICK"))', [("stdout", "quick mode: None\n")]),
    ("check", "double", 'print("double works" if double(3) == 6 else "double is wrong")', [("stdout", "double works\n")]),
]


def make_release(folder):
    cells = []
    for index, (role, exercise, source, outputs) in enumerate(CELLS):
        cells.append({"index": index, "id": f"cell{index}", "role": role, "exercise": exercise, "source": source,
                      "execution_count": index + 1, "points": 5 if role == "graded" else 0,
                      "outputs": [{"output_type": "stream", "name": n, "text": t} for n, t in outputs]})
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "99_mini.json").write_text(json.dumps({"format": 1, "notebook": "99_mini", "tolerance": judge.TOLERANCE,
                                                     "cells": cells}))
    return folder


def student(graded=GRADED, extra_graded="", edit=None):
    nb = nbformat.v4.new_notebook()
    for index, (role, exercise, source, _) in enumerate(CELLS):
        cell = nbformat.v4.new_code_cell(graded + extra_graded if role == "graded" else source)
        cell.id = f"cell{index}"
        cell.metadata = {"tags": [role], "exercise": exercise} if exercise else {}
        nb.cells.append(cell)
    if edit:
        nb.cells[edit[0]].source = edit[1]
    nb.metadata["course"] = {"student_version": True, "release": "mini"}
    return nb


def run(tmp_path, notebooks: dict, env=None):
    release = make_release(tmp_path / "release")
    paths = []
    for name, nb in notebooks.items():
        path = tmp_path / name / "99_mini.ipynb"
        path.parent.mkdir()
        nbformat.write(nb, path)
        paths.append(path)
    results, log = judged_cells(paths, tmp_path, env=env, release=release)
    return {name: results[f"{name}/99_mini.ipynb"] for name in notebooks}, log


@pytest.mark.parametrize("got, expected, same", [
    ("out = [1.7067 0.     0.639 ]", "out = [1.7066 0.     0.6391]", True),   # last digit, other padding
    ("out = [1.7067 0.  ]", "out = [1.7167 0.  ]", False),
    ("-0.0000", "0.0000", True),
    ("shape (3, 4, 4, 6)", "shape (3, 4, 4, 7)", False),     # integers exactly
    ("All tests passed.", "All tests passed!", False),        # the words exactly
    ("23,600,006 parameters", "23,600,006 parameters", True),
    ("865.7056", "865.7055", True),
])
def test_numbers_are_compared_within_the_tolerance_and_words_exactly(got, expected, same):
    assert judge.same_text(got, expected, judge.TOLERANCE) is same


def test_only_the_graded_cells_come_from_the_student(tmp_path):
    stale = student(CORRECT, extra_graded="\nprint('top level', 2.5)")
    for cell in stale.cells[2:]:
        cell.outputs = [nbformat.v4.new_output("error", ename="TypeError", evalue="stale", traceback=[])]
        cell.execution_count = 7
    stale.cells[1].source = stale.cells[1].source.replace("y = 2 * x", "print('inside', x)\n    y = 2 * x")
    stale.cells.append(nbformat.v4.new_code_cell("raise RuntimeError('my own experiment')"))
    results, log = run(tmp_path, {
        "correct": stale,
        "blank": student(),
        "edited": student(edit=(3, 'print("All tests passed.")')),
        "quick": student(CORRECT, extra_graded="\nos.environ['RESNETS_QUICK'] = '1'"),
    })
    assert results["correct"]["failed"] == [], results["correct"]["why"]
    verdicts = results["correct"]["report"]["verdicts"]
    assert "top level 2.5" in verdicts[1]["printed"] and "inside 2.5" in verdicts[2]["printed"], verdicts
    assert any("not run" in note for note in results["correct"]["report"]["notes"])
    assert results["blank"]["failed"] == [2, 3, 5], results["blank"]["why"]
    assert results["edited"]["failed"] == [2, 3, 5]                    # ran as released
    assert results["edited"]["report"]["verdicts"][3]["tampered"] == "edited"
    assert results["quick"]["failed"] == [], results["quick"]["why"]   # the judge's quick mode, not the cell's


ATTACKS = {   # each makes the last check cell show "double works" with no code written, unless the judge undoes it
    "transformer": "\nget_ipython().input_transformers_cleanup.append(\n"
                   "    lambda lines: ['print(\"double works\")\\n'] if 'double is wrong' in ''.join(lines) else lines)",
    "print": "\n_real_print = print\ndef print(*args, **kwargs):\n    _real_print('double works')",
    "stdout": "\nimport sys\n_real = sys.stdout\nclass Fake:\n    def write(self, text):\n"
              "        return _real.write('double works\\n' if text.strip() else text)\n"
              "    def flush(self):\n        _real.flush()\nsys.stdout = Fake()",
    "module": "\nimport builtins\n_real_print = builtins.print\nbuiltins.print = lambda *a, **k: _real_print('double works')",
}


def test_student_code_cannot_rewrite_what_the_release_runs_or_prints(tmp_path):
    results, _ = run(tmp_path, {name: student(extra_graded=code) for name, code in ATTACKS.items()})
    for name, result in results.items():
        assert 5 in result["failed"], (name, result["why"])
        assert "which the checks use" in result["why"][5], (name, result["why"][5])


def test_a_notebook_from_an_unknown_release_is_refused_clearly(tmp_path):
    nb = student(CORRECT)
    nb.metadata["course"]["release"] = "0123456789ab"
    path = tmp_path / "99_mini.ipynb"
    nbformat.write(nb, path)
    results, log = judged_cells([path], tmp_path)
    assert results == {} or all(r["report"]["problem"] for r in results.values())
    assert "release 0123456789ab" in log and "cannot be judged" in log


def test_readmes_student_command_judges_a_saved_notebook(tmp_path):
    """`python3 -m pytest notebooks/student/02_identity_block.ipynb`, run from the course folder with the course's
    own pytest settings (which turn nbval on for the solutions): a blank notebook fails at its checks with the
    hint, a correct one with stale error outputs and prints passes."""
    import subprocess
    import sys

    from tests import submissions as S
    from tests.notebook_tools import REPO

    name = "02_identity_block"
    correct = S.stale_errors(S.append_to_graded(S.fill(S.student(name), name), "print('my debugging', X.shape)",
                                                top=False, inside=True))
    for label, nb in {"blank": S.student(name), "correct": correct}.items():
        S.write(nb, tmp_path / label / f"{name}.ipynb")
    for label, passes in (("blank", False), ("correct", True)):
        proc = subprocess.run([sys.executable, "-m", "pytest", "-c", "pyproject.toml", "--rootdir", str(REPO),
                               str(tmp_path / label / f"{name}.ipynb")], cwd=REPO, capture_output=True, text=True,
                              timeout=600)
        log = proc.stdout + proc.stderr
        assert (proc.returncode == 0) is passes, log[-3000:]
        # five cells, judged once each (nbval, on for the solutions, does not judge them too)
        assert "5 passed" in log if passes else ("2 failed, 3 passed" in log and "returned None" in log), log[-3000:]
        if not passes:   # each failing cell named as JupyterLab counts the file's cells, with its first line
            nb = S.student(name)
            checks = [(k, c) for k, c in enumerate(nb.cells, start=1) if "check" in c.metadata.get("tags", [])]
            for k, cell in checks:
                first = cell.source.strip().splitlines()[0].strip()[:60]
                assert f"::cell {k} of {len(nb.cells)} [check identity_block]: {first}" in log, log[-3000:]


def test_the_checks_hint_leads_where_the_printed_output_differs_too(tmp_path):
    """An exercise whose printed numbers differ and whose check fails: in pytest's report (the student's check
    command) the first failing cell starts with the check's hint, and the difference follows."""
    from tests import block_mistakes as bm
    from tests import submissions as S

    picks = [("identity_block", "relu_before_add"), ("identity_block", "non_square_fxf_kernel"),
             ("convolutional_block", "shortcut_batchnorm_before_conv")]
    paths, hints = [], {}
    for exercise, mistake in picks:
        name = bm.NOTEBOOK[exercise].removesuffix(".ipynb")
        edits, hints[mistake] = next((e, h) for m, e, h in bm.MISTAKES[exercise] if m == mistake)
        nb = S.fill(S.student(name), name)
        [(_, cell)] = S.tagged(nb, "graded", exercise)
        cell.source = bm.apply(cell.source, edits)
        S.write(nb, tmp_path / mistake / f"{name}.ipynb")
        paths.append(tmp_path / mistake / f"{name}.ipynb")
    results, log = judged_cells(paths, tmp_path)
    differs = 0
    for (exercise, mistake), path in zip(picks, paths):
        result = results[str(path.relative_to(tmp_path))]
        first = result["why"][min(result["failed"])]
        assert first.startswith("CheckFailed") and hints[mistake] in first, (mistake, first)
        differs += judge.DIFFERS in first and first.index(judge.DIFFERS) > first.index(hints[mistake])
    assert differs >= 1, "no mistake changed the printed numbers: the test shows nothing"
    assert log.index(hints["relu_before_add"]) < log.index(judge.DIFFERS)


@pytest.mark.parametrize("source, flagged", [("model.compile(optimizer=keras.optimizers.Adam(1e-4))", ""),
                                             ("code = compile(text, 'x', 'exec')", "compile"),
                                             ("exec(text)", "exec"), ("open('answers.json')", "open"),
                                             ("os.open('answers.json', 0)", "os.open"),
                                             ("Path('a').read_text()", "read_text")])
def test_review_flags_pythons_own_compile_not_kerass(source, flagged):
    """Notebook 06's exercise calls model.compile: a correct submission is not flagged for review for it."""
    assert judge._suspicious(source) == (f"graded code uses {flagged}" if flagged else "")
