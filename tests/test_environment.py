"""The foundation: pins, the environment check, and imports from a notebook kernel."""
import re
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

import resnets_utils as ru

REPO = Path(__file__).resolve().parent.parent


def read_pins(name="requirements.txt"):
    pins = {}
    for line in (REPO / name).read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s#]+)", line)
        if m:
            pins[m.group(1).lower()] = m.group(2)
    return pins


def test_requirements_pin_exact_versions_of_the_course_stack():
    pins = read_pins()
    assert pins["tensorflow"] == "2.21.0"
    assert pins["keras"].startswith("3.15.")
    for name in ["jupyterlab", "nbval", "matplotlib", "pydot", "h5py", "pillow", "pytest"]:
        assert name in pins, f"{name} is not pinned with == in requirements.txt"


def test_environment_check_pins_match_requirements():
    pins = read_pins()
    for name, version in ru.PINS.items():
        assert pins.get(name) == version, f"resnets_utils.PINS[{name!r}] != requirements.txt"


def test_installed_versions_are_the_pinned_ones():
    for name, version in read_pins().items():
        assert ru.installed_version(name) == version, f"{name} installed != pinned {version}"


def test_check_environment_reports_ok_and_seeds(capsys):
    ru.check_environment(seed=3, keras=False)
    first = np.random.rand(3)
    out = capsys.readouterr().out
    assert "Environment OK, random seed 3." in out
    assert "WARNING" not in out
    ru.check_environment(seed=3, keras=False)
    assert np.array_equal(first, np.random.rand(3))


def test_check_environment_warns_clearly_on_a_mismatch(monkeypatch, capsys):
    monkeypatch.setitem(ru.PINS, "numpy", "0.0.1")
    ru.check_environment(keras=False)
    out = capsys.readouterr().out
    assert "WARNING: this environment differs" in out
    assert "numpy" in out and "(pinned 0.0.1)" in out
    assert "pip install -r requirements.txt" in out
    assert "Environment OK" not in out


def run_in_kernel(code: str, cwd: Path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(code)]
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}).execute()
    return nb.cells[0].outputs


def test_resnets_utils_imports_from_a_kernel_started_in_notebooks():
    outputs = run_in_kernel(
        "import os, resnets_utils\nprint(os.getcwd())\nprint(resnets_utils.REPO)", REPO / "notebooks")
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    cwd, repo = text.split()
    assert Path(cwd) == REPO / "notebooks"
    assert Path(repo) == REPO


def test_tensorflow_start_up_prints_nothing_on_stderr_in_a_kernel(monkeypatch):
    # Without the test runner's help: a student's JupyterLab has no TF_CPP_MIN_LOG_LEVEL set.
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    outputs = run_in_kernel(
        "from resnets_utils import check_environment\ncheck_environment()\n"
        "import keras\nprint(keras.layers.Dense(2)(keras.ops.ones((1, 3))).shape)", REPO / "notebooks")
    stderr = [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    assert stderr == [], f"TensorFlow chatter reached the notebook: {stderr}"
    stdout = "".join(o.text for o in outputs if o.output_type == "stream" and o.name == "stdout")
    assert "Environment OK" in stdout and "(1, 2)" in stdout


def test_dev_requirements_add_exact_pins_of_the_test_tools_to_the_course_set():
    lines = [line.strip() for line in (REPO / "requirements-dev.txt").read_text().splitlines()]
    assert "-r requirements.txt" in lines
    dev = read_pins("requirements-dev.txt")
    assert {"playwright", "sphinx", "myst-nb", "sphinx-book-theme", "sphinx-mathjax-offline"} <= set(dev)
    assert not set(dev) & set(read_pins()), "requirements-dev.txt pins again what requirements.txt pins"
    assert all(line.startswith(("#", "-r ")) or "==" in line for line in lines if line), "a test tool is not pinned"
    for name, version in dev.items():
        assert ru.installed_version(name) == version, f"{name} installed != pinned {version}"


def test_cloud_files_ask_for_the_tested_python_and_graphviz():
    """repo2docker (Binder, JupyterHub) reads runtime.txt, apt.txt and requirements.txt."""
    major, minor = sys.version_info[:2]
    assert (REPO / "runtime.txt").read_text().strip() == f"python-{major}.{minor}"
    assert "graphviz" in (REPO / "apt.txt").read_text().split()


@pytest.mark.parametrize("path", ["README.md", ".ci/run", "requirements.txt", "resnets_utils.py",
                                  "datasets", "images", "notebooks", "notebooks/student", "tests"])
def test_course_layout(path):
    assert (REPO / path).exists()
