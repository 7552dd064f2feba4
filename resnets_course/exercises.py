"""Reusing a student's own exercises: a later notebook imports a graded function from an earlier one."""
from __future__ import annotations

import os
from pathlib import Path

from .errors import CourseError


def import_exercise(notebook: str, name: str, folder: str | os.PathLike | None = None, namespace: dict | None = None):
    """Your function ``name``, defined by the graded cells of ``notebook`` as saved on disk.

    Later notebooks build on earlier exercises without a hidden reference copy: this reads the
    earlier notebook (by default from the current folder, where Jupyter runs the notebook),
    runs the import statements of its code cells and then its graded cells in a fresh namespace,
    and returns the function. Nothing else of that notebook runs (no training, no checks).
    ``namespace`` adds names the graded cells use but do not import (e.g. the blocks for ResNet50).
    """
    import ast
    import json

    folder = Path.cwd() if folder is None else Path(folder)
    path = folder / notebook
    where = f"{notebook} (in {folder})"
    if not path.exists():
        raise CourseError(f"{where} was not found. This notebook reuses your {name} from it: keep the "
                          f"course notebooks together in one folder, and run this notebook from there.")
    try:
        cells = [c for c in json.loads(path.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise CourseError(f"{where} is not a readable notebook ({e}). Open it in Jupyter, save it, "
                          f"and run this cell again.") from None
    namespace = {**(namespace or {}), "__name__": f"exercises_of_{Path(notebook).stem}"}
    imports, graded = [], []
    for cell in cells:
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        is_graded = "graded" in cell.get("metadata", {}).get("tags", [])
        try:
            tree = ast.parse(source)
        except SyntaxError as e:
            if is_graded:
                raise CourseError(f"Your code in {where} has a syntax error (line {e.lineno} of its graded "
                                  f"cell: {e.msg}). Fix it there, save the notebook, and run this cell again.") from None
            continue   # a broken cell that is not graded cannot define the function we need
        if is_graded:
            graded.append(tree)
        else:
            imports += [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    try:
        exec(compile(ast.Module(body=imports, type_ignores=[]), str(path), "exec"), namespace)
        for tree in graded:
            exec(compile(tree, str(path), "exec"), namespace)
    except Exception as e:
        raise CourseError(f"Running the graded cells of {where} failed: {type(e).__name__}: {e}. "
                          f"Fix it there, save the notebook, and run this cell again.") from None
    function = namespace.get(name)
    if not callable(function):
        raise CourseError(f"{where} defines no function {name}. Did you rename or delete it? "
                          f"Restore its graded cell, save the notebook, and run this cell again.")
    return function


def require(value, what: str, exercise: str):
    """``value``, or a clear error when an unfinished exercise left it as None."""
    if value is None:
        raise CourseError(f"{what} is None: finish {exercise} above (its check must pass), then run this cell again.")
    return value

