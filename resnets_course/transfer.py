"""Fine-tuning a trained ResNet on a few real photographs (notebook 06 and its benchmark): choosing the photos,
finding where a stage begins, and reading notebook 04's saved model."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .errors import CourseError

#: The file notebook 04 saves its trained model to, beside the notebooks.
SAVED_MODEL = "resnet50_signs.keras"
#: The file notebook 06 saves its model fine-tuned on the whole pool of real photographs to.
FINE_TUNED_MODEL = "resnet50_signs_photos.keras"


def photos_per_sign(x, y, k: int | None, seed: int = 0):
    """``k`` photos of each sign drawn at random (``seed``), in their order in ``x``; all of them if ``k`` is
    None. ``y`` holds integer labels (m,). A sign with fewer than ``k`` photos is an error, not a silent
    smaller draw."""
    x, y = np.asarray(x), np.asarray(y).ravel()
    if k is None:
        return x, y
    if int(k) != k or k < 1:
        raise CourseError(f"k={k!r}: draw a whole number of photos per sign, at least 1 (or None for all).")
    rng = np.random.default_rng(seed)
    chosen = []
    for sign in np.unique(y):
        members = np.flatnonzero(y == sign)
        if len(members) < k:
            raise CourseError(f"sign {sign} has {len(members)} photos, fewer than k={k}.")
        chosen.append(rng.choice(members, size=int(k), replace=False))
    keep = np.sort(np.concatenate(chosen))
    return x[keep], y[keep]


def _blocks_by_stage(model) -> list[list[int]]:
    """Indices in ``model.layers`` of each residual block's Add layer, grouped by stage (a stage is a run of
    blocks with the same output shape)."""
    import keras

    stages, shape = [], None
    for i, layer in enumerate(model.layers):
        if isinstance(layer, keras.layers.Add):
            out = tuple(layer.output.shape[1:])
            if out != shape:
                stages.append([])
                shape = out
            stages[-1].append(i)
    return stages


def first_layer_of_stage(model, stage) -> str:
    """The name of the first layer of ``stage`` in a ResNet built block by block, as notebook 04's is: 2 to 5
    for conv2 to conv5, or "head" for what follows the last block (the pooling and the classifier). Freezing
    the layers before it keeps the stages below it as they were trained."""
    import keras

    stages = _blocks_by_stage(model)
    if not stages:
        raise CourseError(f"{model.name} has no Add layer: it is not a residual network.")
    layers = model.layers
    if stage == "head":
        index = stages[-1][-1] + 1
    elif stage in range(3, len(stages) + 2):
        index = stages[stage - 3][-1] + 1   # after the previous stage's last Add
    elif stage == 2:
        pools = [i for i, layer in enumerate(layers[:stages[0][0]])
                 if isinstance(layer, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D))]
        if not pools:
            raise CourseError("no pooling layer before the first block: where stage 2 begins is unclear.")
        return layers[pools[-1] + 1].name
    else:
        raise CourseError(f"stage={stage!r}: name a stage from 2 to {len(stages) + 1}, or 'head'.")
    # The Add is followed by its block's ReLU; the next layer begins the stage.
    while index < len(layers) and isinstance(layers[index], keras.layers.Activation):
        index += 1
    if index >= len(layers):
        raise CourseError(f"nothing follows the last block of {model.name}.")
    return layers[index].name


def load_trained_resnet50(path: str | os.PathLike | None = None):
    """Notebook 04's trained model, as it saved it (``resnet50_signs.keras`` beside the notebooks), or a
    message that says how to make it. In the test suite's quick mode (and in grading) no file is read: an
    untrained ResNet-50 of the same layers stands in, so that the notebook's code runs the same everywhere."""
    import keras

    from .environment import QUICK_ENV, quick_run

    if quick_run():
        print(f"Quick run ({QUICK_ENV}=1): an untrained ResNet-50 (keras.applications, the same layers) stands in "
              "for notebook 04's model; the numbers below test the code, not fine-tuning.")
        return keras.applications.ResNet50(weights=None, input_shape=(64, 64, 3), classes=6)
    return read_saved_model(Path(path) if path is not None else Path(SAVED_MODEL))


#: Notebook 06's fine-tuning, as bench.fine_tuning chose it on the real validation split (bench/README.md):
#: stage 4 on (the stem, stages 2 and 3 frozen), Adam at 1e-4, 120 update steps of 16 photos whatever k is.
FINE_TUNING_STAGE = 4
FINE_TUNING_RATE = 1e-4
FINE_TUNING_STEPS = 120
BATCH_SIZE = 16


def epochs_for(photos: int, steps: int, batch_size: int = BATCH_SIZE) -> int:
    """The number of epochs of ``photos`` that makes about ``steps`` update steps (at least one epoch)."""
    return max(1, round(steps / int(np.ceil(photos / batch_size))))


def _steps_in_one_epoch(photos: int, steps: int, batch_size: int = BATCH_SIZE) -> int | None:
    """``steps`` when they are fewer than one epoch of ``photos`` (a quick trial of the code), else None."""
    return steps if steps < int(np.ceil(photos / batch_size)) else None


class _QuietRetracing:
    """Keeps TensorFlow's "triggered tf.function retracing" warning out of a run of fine-tuning runs: each run
    compiles the model again (the trainable flags change), so its training step is traced again by design."""

    def __enter__(self):
        import logging

        self.logger = logging.getLogger("tensorflow")
        self.level = self.logger.level
        self.logger.setLevel(logging.ERROR)

    def __exit__(self, *exc):
        self.logger.setLevel(self.level)


def fine_tune(model, start_weights, prepare_fine_tuning, first_trainable, learning_rate, x, y_onehot, augment,
              steps: int = FINE_TUNING_STEPS, seed: int = 1, after_epoch=None) -> float:
    """Put ``start_weights`` back into ``model`` (one model object for every run), get it ready with
    ``prepare_fine_tuning(model, first_trainable, learning_rate)``, and train it on (x, y_onehot), pixels from 0 to 1,
    with ``augment`` for about ``steps`` update steps. ``after_epoch(epoch)`` is called after each epoch.
    Returns the seconds it took."""
    import time

    from .training import augmented_batches

    x = _pixels_in_unit_range(x)
    clock = time.perf_counter()
    model.set_weights(start_weights)
    model = prepare_fine_tuning(model, first_trainable, learning_rate)
    if model is None:
        raise CourseError("prepare_fine_tuning returned None: finish Exercise 1 above (its check must pass), then "
                          "run this cell again.")
    if getattr(model, "optimizer", None) is None or not getattr(model, "compiled", True):
        raise CourseError("the model prepare_fine_tuning returned is not compiled: finish Exercise 1 above (its check "
                          "must pass), then run this cell again.")
    epochs = epochs_for(len(x), steps)
    with _QuietRetracing():
        if after_epoch is None:   # one fit: the pipeline reshuffles the photos every epoch
            model.fit(augmented_batches(x, y_onehot, augment, BATCH_SIZE, seed=seed), epochs=epochs,
                      steps_per_epoch=_steps_in_one_epoch(len(x), steps), shuffle=False, verbose=0)
        else:   # a fit per epoch, each shuffled with its own seed, so that the model can be read in between
            for epoch in range(epochs):
                model.fit(augmented_batches(x, y_onehot, augment, BATCH_SIZE, seed=seed + 1000 * epoch), epochs=1,
                          steps_per_epoch=_steps_in_one_epoch(len(x), steps), shuffle=False, verbose=0)
                after_epoch(epoch)
    return time.perf_counter() - clock


def train_from_scratch(model, initial_weights, x, y_onehot, augment, steps: int, seed: int = 1) -> float:
    """Notebook 04's recipe on (x, y_onehot) for about ``steps`` update steps, starting ``model`` from
    ``initial_weights`` (its weights before any training): every layer learns, BatchNorm momentum 0.9, each
    block started as its shortcut (zero gamma), Adam with a cosine schedule from 2e-3, label smoothing 0.1,
    batches of 16, then BatchNorm's statistics re-measured on x. Returns the seconds it took."""
    import time

    import keras

    from .training import augmented_batches, compile_for_training, reestimate_batchnorm_statistics, \
        start_blocks_as_identity

    x = _pixels_in_unit_range(x)
    clock = time.perf_counter()
    model.set_weights(initial_weights)
    for layer in model.layers:
        layer.trainable = True
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.9
    start_blocks_as_identity(model)
    epochs = epochs_for(len(x), steps)
    schedule = keras.optimizers.schedules.CosineDecay(2e-3, epochs * int(np.ceil(len(x) / BATCH_SIZE)))
    compile_for_training(model, keras.optimizers.Adam(schedule), x, y_onehot,
                         loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.1), metrics=["accuracy"])
    with _QuietRetracing():
        model.fit(augmented_batches(x, y_onehot, augment, BATCH_SIZE, seed=seed), epochs=epochs,
                  steps_per_epoch=_steps_in_one_epoch(len(x), steps), shuffle=False, verbose=0)
    reestimate_batchnorm_statistics(model, x)
    return time.perf_counter() - clock


def _pixels_in_unit_range(x):
    x = np.asarray(x)
    if x.dtype == np.uint8 or (x.size and float(x.max()) > 1.5):
        raise CourseError("the images hold pixel values up to 255; the model was trained on values from 0 to 1. "
                          "Divide them by 255 first, as notebook 04 does (X = X_orig / 255.0).")
    return x


def real_accuracy(model, x, y) -> float:
    """The fraction of images ``x`` (pixels from 0 to 1) that ``model`` reads as ``y``, each averaged with its
    mirror image as notebook 04 reads them."""
    from .training import predict_with_mirror_image

    x = _pixels_in_unit_range(x)
    return float((predict_with_mirror_image(model, x).argmax(axis=1) == np.ravel(y)).mean())


#: The committed k-sweep (bench.fine_tuning --sweep, summarised by --export) that notebook 06 plots its run beside.
BENCHMARK = Path(__file__).resolve().parent / "fine_tuning_benchmark.json"
#: The kinds of run the benchmark holds, as the plot names them.
RUN_KINDS = {"fine-tuned": "fine-tuned", "from scratch, same steps": "from scratch, as many steps",
             "from scratch": "from scratch, notebook 04's 1984 steps"}


def fine_tuning_benchmark() -> dict:
    """The committed benchmark: for each kind of run and each k ("5", "10", "20", "all"), the real-test
    accuracy on each seed; and what the pretrained model read before fine-tuning."""
    import json

    return json.loads(BENCHMARK.read_text())


def plot_fine_tuning(yours: dict, before: float, benchmark: dict, scratch: dict | None = None):
    """Real-test accuracy against the photos per sign, in two panels: every kind of run (left, from 0 to 1), and
    the fine-tuned runs and the long runs from scratch near the top (right, magnified; lower points fall off it). Your runs (``yours``: k -> accuracy, None for the whole pool;
    ``scratch``, the same form, trained from scratch) are drawn over the benchmark's seeds (the mean, and a bar
    from the lowest seed to the highest); a dash-dot line marks your model before fine-tuning."""
    import matplotlib.pyplot as plt

    labels = benchmark["k"]
    where = dict(zip(labels, range(len(labels))))
    styles = {"fine-tuned": ("o", "-", 0.0), "from scratch, same steps": ("s", "--", 0.08),
              "from scratch": ("^", ":", 0.16)}
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.4))
    for ax, kinds in zip(axes, (list(styles), ["fine-tuned", "from scratch"])):
        for kind in kinds:
            marker, line, shift = styles[kind]
            per_k = benchmark["runs"].get(kind, {})
            shown = [k for k in labels if per_k.get(k)]
            if not shown:
                continue
            values = [np.array(per_k[k]) for k in shown]
            mean = np.array([v.mean() for v in values])
            seeds = f"{len(values[0])} seed" + ("s" if len(values[0]) > 1 else "")
            x = np.array([where[k] for k in shown]) + shift
            ax.errorbar(x, mean, yerr=[mean - [v.min() for v in values], [v.max() for v in values] - mean],
                        linestyle="none", color="0.45", capsize=3)
            ax.plot(x, mean, marker=marker, linestyle=line, color="0.45", markerfacecolor="white",
                    label=f"benchmark, {RUN_KINDS[kind]} ({seeds})")
        for runs, marker, line, label in ((yours, "o", "-", "your run, fine-tuned"),
                                          (scratch or {}, "s", "--", "your run, from scratch, as many steps")):
            if runs and (ax is axes[0] or label.endswith("fine-tuned")):
                keys = ["all" if k is None else str(k) for k in runs]
                ax.plot([where[k] for k in keys], list(runs.values()), marker=marker, linestyle=line, color="C0",
                        markersize=8, label=label)
        ax.axhline(before, color="C1", linestyle="-.", label=f"your model before fine-tuning ({before:.3f})")
        ax.set_xticks(range(len(labels)), [f"{k} per sign" if k != "all" else "all 636" for k in labels])
        ax.set_xlabel("real training photos")
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("accuracy on the 324 real test photos")
    axes[0].set_ylim(0, 1.02)
    axes[0].set_title("Fine-tuned and from scratch")
    fine = [v for v in benchmark["runs"].get("fine-tuned", {}).values() for v in v] + list(yours.values()) + [before]
    axes[1].set_ylim(max(0.0, min(fine) - 0.02), 1.005)
    axes[1].set_title("Near the top, magnified")
    handles = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=2, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.17, 1, 1))
    return fig


def read_saved_model(path: Path):
    """A model saved by notebook 04 or 06 (any saved Keras model of one input), or a message that says how to
    make it."""
    import keras

    if not path.exists():
        raise CourseError(f"{path} is not there. Notebook 06 starts from the model notebook 04 trains and saves: "
                          f"run notebook 04 to the end (its last cell saves {SAVED_MODEL} beside the notebooks), "
                          "then come back.")
    try:
        model = keras.models.load_model(path)
    except Exception as e:   # noqa: BLE001 - a truncated or foreign file
        raise CourseError(f"{path} could not be read as a Keras model ({type(e).__name__}: {str(e)[:200]}). "
                          "Run notebook 04 again to save it afresh.") from None
    # Notebook 04 saved a model whose input is a list of one tensor; the same layers with a single input take
    # a batch of images without Keras's warning about the structure of the inputs.
    return keras.Model(model.inputs[0], model.outputs[0], name=model.name)


def correct_per_sign(predicted, y) -> dict[int, tuple[int, int]]:
    """For each sign in ``y``: how many of its photos were ``predicted`` right, and of how many."""
    return {int(s): (int((predicted[y == s] == s).sum()), int((y == s).sum())) for s in np.unique(y)}


def read_photos(photos, models: dict) -> list[dict]:
    """Read a set of photographs (``load_photo_set``: a folder with a subfolder per sign, or a SIGNS .h5 file)
    with each saved model of ``models`` (name -> file), each photo as it is and mirrored. For each model: its
    accuracy and its recall on each sign (correct, of how many)."""
    from .data import load_photo_set
    from .training import predict_with_mirror_image

    x, y = load_photo_set(photos)
    rows = []
    for name, path in models.items():
        model = read_saved_model(Path(path))
        predicted = predict_with_mirror_image(model, x / 255.0).argmax(axis=1)
        rows.append({"model": name, "file": str(path), "photos": len(y),
                     "accuracy": float((predicted == y).mean()), "per_sign": correct_per_sign(predicted, y)})
    return rows


def photos_table(rows: list[dict]) -> str:
    """What read_photos found, one line per model: the accuracy and, for each sign, correct of how many."""
    signs = sorted({s for r in rows for s in r["per_sign"]})
    width = max(len("model"), *(len(r["model"]) for r in rows))   # a file's path can be long
    lines = [f"{'model':{width}} {'accuracy':>9}  " + "  ".join(f"sign {s:<6}" for s in signs)]
    for r in rows:
        lines.append(f"{r['model']:{width}} {r['accuracy']:9.3f}  " + "  ".join(
            f"{'%d/%d' % r['per_sign'][s]:<11}" if s in r["per_sign"] else f"{'-':<11}" for s in signs))
    return "\n".join(lines)
