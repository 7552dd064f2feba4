"""The course's own ResNet-50 and training recipe, read from the solution notebooks."""
from __future__ import annotations

import json

from resnets_utils import REPO, import_exercise, load_dataset

NOTEBOOKS = REPO / "notebooks"


def course_resnet50():
    """The ResNet50 function of notebook 04, built from the identity and convolutional blocks of 02 and 03."""
    blocks = {name: import_exercise(nb, name, folder=NOTEBOOKS) for nb, name in
              (("02_identity_block.ipynb", "identity_block"), ("03_convolutional_block.ipynb", "convolutional_block"))}
    return import_exercise("04_resnet50.ipynb", "ResNet50", folder=NOTEBOOKS, namespace=blocks)


def recipe_cell() -> str:
    """The source of notebook 04's training-recipe cell (the one that sets EPOCHS)."""
    cells = json.loads((NOTEBOOKS / "04_resnet50.ipynb").read_text())["cells"]
    [source] = ["".join(c["source"]) for c in cells if c["cell_type"] == "code" and "EPOCHS =" in "".join(c["source"])]
    return source


def apply_recipe(model, x_train, y_train) -> dict:
    """Run notebook 04's recipe cell on `model` (augmentation, BatchNorm momentum, optimizer, compile)."""
    ns = {"model": model, "X_train": x_train, "Y_train": y_train}
    exec("import keras, numpy as np\nfrom keras.layers import *\n"
         "from resnets_utils import compile_for_training, create_training_variables, quick_run\n" + recipe_cell(), ns)
    return ns


def signs_for_training():
    """(x_train, y_train, x_test, y_test) as notebook 04 feeds them to fit: pixels in [0, 1], one-hot labels."""
    import keras
    import numpy as np

    x_train, y_train, x_test, y_test, _ = load_dataset()
    return ((x_train / 255.0).astype(np.float32), keras.utils.to_categorical(y_train.ravel(), 6),
            (x_test / 255.0).astype(np.float32), keras.utils.to_categorical(y_test.ravel(), 6))
