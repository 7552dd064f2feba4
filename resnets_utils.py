"""The course's one import: every notebook takes what it needs from here.

    from resnets_utils import check_environment
    check_environment()

The code lives in the package ``resnets_course`` (README, "Layout"). Names that need TensorFlow are
loaded when first used, so the NumPy-only notebook 01 starts without it. Names are never removed once a
released notebook uses them: students' work from an earlier release still runs.
"""
from __future__ import annotations

import importlib
import sys

from resnets_course.checks.numpy_checks import (check_residual_block_backward, check_residual_block_forward,
                                                gradient_check)
from resnets_course.cifar_nets import figure4_conv_committed, figure4_conv_run, figure4_conv_table, plot_figure4_conv
from resnets_course.data import hold_out_validation, load_dataset, load_image, load_photo_set, load_real_photos
from resnets_course.environment import (DATASETS, IMAGES, PINS, QUICK_ENV, REPO, SEED, check_environment,
                                        import_tensorflow_quietly, installed_version, quick_run)
from resnets_course.degradation import figure4_findings, figure4_gradient_ratios, figure4_runs, plot_figure4
from resnets_course.errors import CheckFailed, CourseError, DatasetError
from resnets_course.exercises import import_exercise, require
from resnets_course.numpy_blocks import (DEGRADATION_EXPERIMENT, DEGRADATION_NETS, GRADIENT_STACKS, INITIALISATIONS,
                                        counts_table, degradation_counts, degradation_findings, degradation_runs, example,
                                        first_step_below, gradient_norms, gradient_runs, path_lengths, relu, train_mlp)
from resnets_course.plots import (confusion_matrix, draw_model, plot_confusion, plot_degradation, plot_history,
                                  plot_misclassified, plot_prediction, plot_samples, save_fig)
from resnets_course.transfer import (fine_tune, fine_tuning_benchmark, first_layer_of_stage, load_trained_resnet50,
                                     photos_per_sign, photos_table, plot_fine_tuning, read_photos, real_accuracy,
                                     train_from_scratch)
from resnets_course.training import (augmented_batches, compile_for_training, create_training_variables,
                                     predict_with_mirror_image, reestimate_batchnorm_statistics,
                                     start_blocks_as_identity, test_batches)

# name -> module, imported on first use (these import TensorFlow and Keras).
_WITH_KERAS = {
    **dict.fromkeys(["check_identity_block", "check_convolutional_block", "check_basic_block", "check_bottleneck_block",
                     "check_preact_basic_block", "check_preact_bottleneck_block", "rounded", "block_output"],
                    "resnets_course.checks.blocks"),
    **dict.fromkeys(["check_resnet50", "check_training", "check_build_resnet", "check_family_table",
                     "check_bottleneck_cost"],
                    "resnets_course.checks.models"),
    "check_prepare_fine_tuning": "resnets_course.checks.transfer",
    **dict.fromkeys(["block_cost", "family_table", "plot_family", "print_family_table", "multiply_adds",
                     "count_parameters"], "resnets_course.counting"),
}

# Module names of releases before the package existed (their notebooks import `from block_checks import
# ...`): they all mean this module, which has every name those notebooks import.
OLD_MODULES = ("block_checks", "family_checks", "resnet_checks", "resnet_family", "residual_numpy", "fused_batchnorm")
for _old in OLD_MODULES:
    sys.modules.setdefault(_old, sys.modules[__name__])
del _old


def __getattr__(name: str):
    if name == "BatchNormalization":   # earlier releases imported the course's own layer; it is Keras's now
        import_tensorflow_quietly()
        import keras

        return keras.layers.BatchNormalization
    if name in _WITH_KERAS:
        return getattr(importlib.import_module(_WITH_KERAS[name]), name)
    raise AttributeError(f"module 'resnets_utils' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_WITH_KERAS) | {"BatchNormalization"})
