"""Test-run settings shared by the unit tests and the nbval notebook runs.

Kernels started by nbval inherit this process's environment, so TensorFlow's C++ logging is
quietened here as well as in resnets_utils (which covers students running JupyterLab).
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("PYTHONHASHSEED", "0")
# No MPLBACKEND here: kernels would inherit it and lose their inline plots (matplotlib picks a
# headless backend by itself where there is no display).
