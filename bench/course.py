"""The course's own ResNet-50, training recipe and data split, read from the solution notebooks; and the
data generator, for the stress set."""
from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import sys
from functools import lru_cache

from resnets_utils import REPO, import_exercise

NOTEBOOKS = REPO / "notebooks"


def course_resnet50():
    """The ResNet50 function of notebook 04, built from the identity and convolutional blocks of 02 and 03."""
    blocks = {name: import_exercise(nb, name, folder=NOTEBOOKS) for nb, name in
              (("02_identity_block.ipynb", "identity_block"), ("03_convolutional_block.ipynb", "convolutional_block"))}
    return import_exercise("04_resnet50.ipynb", "ResNet50", folder=NOTEBOOKS, namespace=blocks)


def notebook_04_cell(marker: str) -> str:
    """The source of the one code cell of notebook 04 that contains ``marker``."""
    cells = json.loads((NOTEBOOKS / "04_resnet50.ipynb").read_text())["cells"]
    [source] = ["".join(c["source"]) for c in cells if c["cell_type"] == "code" and marker in "".join(c["source"])]
    return source


def recipe_cell() -> str:
    """The source of notebook 04's training-recipe cell (the one that sets EPOCHS)."""
    return notebook_04_cell("EPOCHS =")


def batchnorm_cell() -> str:
    """The source of notebook 04's cell that re-measures BatchNorm's statistics after training."""
    return notebook_04_cell("reestimate_batchnorm_statistics(model")


def finish_training(ns: dict, x_train, x_val, y_val) -> tuple[float, float]:
    """Run notebook 04's cell after ``fit`` in the namespace that :func:`apply_recipe` returned, on the
    images the model trained on: BatchNorm's statistics re-measured on them. Returns the validation
    accuracy before and after (the cell's own printout is not shown)."""
    ns.update(train_images=x_train, X_val=x_val, Y_val=y_val)
    with contextlib.redirect_stdout(io.StringIO()):
        exec("from resnets_utils import reestimate_batchnorm_statistics\n" + batchnorm_cell(), ns)
    return float(ns["before"]), float(ns["after"])


def data_cell() -> str:
    """The source of notebook 04's data cell (the one that holds the validation images out)."""
    return notebook_04_cell("hold_out_validation(")


def apply_recipe(model, x_train, y_train, source: str | None = None) -> dict:
    """Run notebook 04's recipe cell on `model` (augmentation, BatchNorm momentum, optimizer, compile), or
    ``source``, a variant of that cell's text."""
    ns = {"model": model, "X_train": x_train, "Y_train": y_train}
    exec("import keras, numpy as np\nfrom keras.layers import *\n"
         "from resnets_utils import compile_for_training, create_training_variables, quick_run, "
         "start_blocks_as_identity\n" + (recipe_cell() if source is None else source), ns)
    return ns


def signs_for_training():
    """``(train, validation, test)``, each an ``(x, y)`` pair as notebook 04 feeds them to ``fit`` and
    ``evaluate``: pixels in [0, 1] (float32), one-hot labels. Notebook 04's own data cell makes them, so the
    validation images are the ones the notebook holds out of the training file."""
    import numpy as np

    ns = {}
    with contextlib.redirect_stdout(io.StringIO()):   # the cell prints the shapes for the student
        exec("import keras\nfrom resnets_utils import hold_out_validation, load_dataset\n" + data_cell(), ns)
    return tuple((ns[f"X_{part}"].astype(np.float32), ns[f"Y_{part}"]) for part in ("train", "val", "test"))


@lru_cache(maxsize=None)
def make_signs():
    """datasets/make_signs.py, the course's data generator, as a module (it is a script beside the data,
    not part of a package). Registered under its name, so that its worker processes find their function."""
    spec = importlib.util.spec_from_file_location("make_signs", REPO / "datasets" / "make_signs.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_signs"] = module
    spec.loader.exec_module(module)
    return module
