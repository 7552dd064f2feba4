"""The environment: versions the course is tested with, TensorFlow's quiet import, seeding, quick runs.

Every notebook's first code cell calls ``check_environment()``; it also puts BatchNormalization on
TensorFlow's fused kernel (``keras_internals``), so the students' ``BatchNormalization(axis=3)`` trains at
the course's speed and still saves as Keras's own layer.
"""
from __future__ import annotations

import os

# TensorFlow prints C++ log lines (oneDNN notice, CUDA probing) with timestamps and process ids at
# import time. They are noise for students and would make stored notebook outputs differ from run
# to run, so they are silenced before anything can import TensorFlow.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import platform
import random
import sys
from importlib import metadata
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
DATASETS = REPO / "datasets"
IMAGES = REPO / "images"
# Notebook 05 plots this benchmark result (python -m bench.figure4 on the course's reference machine).
FIGURE4_RESULT = REPO / "bench" / "results" / "figure4-amd-epyc-2t.json"
#: The versions the course is tested with; requirements.txt pins the same (a test keeps them equal).
PINS = {
    "tensorflow": "2.21.0",
    "keras": "3.15.1",
    "numpy": "2.4.6",
    "matplotlib": "3.11.2",
    "h5py": "3.14.0",
}
PYTHON = "3.11"
SEED = 1


def installed_version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def import_tensorflow_quietly():
    """Import TensorFlow without its start-up chatter on stderr; return the module.

    TF 2.21 prints a few C++ log lines (oneDNN notice, CUDA probing) *before* its logging is
    configured, so TF_CPP_MIN_LOG_LEVEL cannot silence them. Jupyter forwards the process's stderr
    into the notebook, where these lines (with timestamps and process ids) would differ on every
    run. So the import runs with file descriptor 2 pointed at /dev/null; real errors still arrive
    as Python exceptions, and later messages are filtered by TF_CPP_MIN_LOG_LEVEL.
    """
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return tensorflow



def check_environment(seed: int = SEED, keras: bool = True) -> None:
    """Print the versions that matter, warn clearly on a mismatch with the pins, and seed everything.

    With ``keras=True`` Keras (and TensorFlow) are imported and seeded too, and BatchNormalization runs on
    TensorFlow's fused kernel (``keras_internals``); the NumPy-only notebook passes ``keras=False`` and
    starts faster.
    """
    python = ".".join(platform.python_version_tuple()[:2])
    found = {name: installed_version(name) for name in PINS}
    shown = ["tensorflow", "keras", "numpy"]
    print(f"Python {python} | " + " | ".join(f"{n} {found[n]}" for n in shown))
    problems = []
    if python != PYTHON:
        problems.append(f"Python {python} (the course is tested on {PYTHON})")
    for name, pinned in PINS.items():
        if found[name] is None:
            problems.append(f"{name} is not installed (pinned {pinned})")
        elif found[name] != pinned:
            problems.append(f"{name} {found[name]} (pinned {pinned})")
    if problems:
        print("WARNING: this environment differs from the one the course is tested with:")
        for p in problems:
            print("  -", p)
        print("Your numbers may differ from the stored ones. Fix: pip install -r requirements.txt")
    random.seed(seed)
    np.random.seed(seed)
    if keras:
        import_tensorflow_quietly()
        import keras as _keras

        from .keras_internals import use_fused_batchnorm

        _keras.utils.set_random_seed(seed)
        use_fused_batchnorm()
    print(f"Environment OK, random seed {seed}." if not problems else f"Random seed {seed}.")



QUICK_ENV = "RESNETS_QUICK"


def quick_run() -> bool:
    """True when ``RESNETS_QUICK=1``: the test suite's contract runs check a notebook's plumbing with
    a tiny training run; so do the suite's nbval runs of notebooks 04 and 05 unless pytest is given
    ``--full-training`` (conftest.py). Students always train in full."""
    return os.environ.get(QUICK_ENV, "") == "1"



if sys.version_info < (3, 11):  # pragma: no cover - a readable message beats a syntax error later
    print(f"WARNING: Python {platform.python_version()} is older than the course's {PYTHON}.")
