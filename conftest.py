"""Test-run settings shared by the unit tests and the nbval notebook runs.

Kernels started by nbval inherit this process's environment, so TensorFlow's C++ logging is
quietened here as well as in resnets_utils (which covers students running JupyterLab).

Notebook 04 trains ResNet-50 for about 8 minutes on two cores, notebook 05 two 56-layer nets for about two, and
notebook 06 fine-tunes 04's model for about four. The suite's nbval run trains them in quick mode (04: one epoch on
64 images; 05: its 20-layer nets for 2 steps; 06: an untrained stand-in for 04's model, 2 steps a run: the
plumbing, the checks and the plots, not the results), so that the whole suite stays under 30 minutes on two
cores; ``--full-training`` trains them in full and asserts 04's accuracy, as students run them.
"""
import os
from pathlib import Path

import pytest

from resnets_course.environment import QUICK_ENV   # NumPy only: TensorFlow stays unimported

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("PYTHONHASHSEED", "0")
# No MPLBACKEND here: kernels would inherit it and lose their inline plots (matplotlib picks a
# headless backend by itself where there is no display).

# The solution notebook itself; student notebooks and submissions are judged as students run them.
TRAINS_FOR_MINUTES = {Path(__file__).resolve().parent / "notebooks" / name
                      for name in ("04_resnet50.ipynb", "05_resnet_family.ipynb", "06_transfer_learning.ipynb")}


def pytest_addoption(parser):
    parser.addoption("--full-training", action="store_true", default=False,
                     help="nbval trains notebook 04's ResNet-50 in full (about 8 minutes on two cores) "
                          "instead of one epoch on 64 images, and asserts its test accuracy; notebook 05's "
                          "56-layer nets for 240 steps (about two minutes); and notebook 06 fine-tunes the model "
                          "04 saved (about four minutes)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    """nbval starts a notebook's kernel when its first cell is set up, with this process's environment:
    quick mode is put there for that moment only, so no other test or kernel sees it."""
    quick = (Path(item.path).resolve() in TRAINS_FOR_MINUTES and not item.config.getoption("--full-training")
             and QUICK_ENV not in os.environ)
    if quick:
        os.environ[QUICK_ENV] = "1"
    try:
        yield
    finally:
        if quick:
            del os.environ[QUICK_ENV]
