"""Notebook 04's training recipe, one choice at a time: a leave-one-out ablation from the final recipe.

    python -m bench.recipe_ablation                       # every variant, seeds 1 and 2 (about 95 min on 2 cores)
    python -m bench.recipe_ablation --seeds 3 --variants final "no zero-gamma"

Each variant is notebook 04's recipe cell with one choice taken out (the cell's text, edited by
:data:`VARIANTS`; an edit that no longer finds its text stops the run), trained on notebook 04's data as
:mod:`bench.time_to_accuracy` trains it (the seed orders the training images and their augmentation). Two
choices act after training and need no retraining: re-measuring BatchNorm's statistics ("precise
BatchNorm") and averaging each image's prediction with its mirror image's. Every trained model is read
the four ways those two give, so they are measured on the same models.

A variant is judged on the 90 validation images held out of the training file (their cross-entropy: the
accuracy is 1.000 for nearly every variant, so it cannot tell them apart) and on the stress set
(datasets/make_signs.py's make_stress_set: recall per sign, and cross-entropy). The cross-entropy is the
plain one, without label smoothing, for every variant. The test images are never read. Each run is added
to bench/results/recipe_ablation-<machine>.json as soon as it ends; runs already there are skipped, so an
interrupted ablation resumes where it stopped.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from bench.course import apply_recipe, course_resnet50, finish_training, make_signs, recipe_cell, signs_for_training
from bench.machine import describe_machine, results_path
from bench.time_to_accuracy import recall_per_class
from resnets_utils import augmented_batches, check_environment, predict_with_mirror_image, test_batches

# variant -> (what the choice is, [(text of the recipe cell, its replacement), ...])
VARIANTS = {
    "final": ("notebook 04's recipe", []),
    "no augmentation": ("flips, turns, zoom and shifts", [("augment = keras.Sequential([", "augment = keras.Sequential([")]),
    "no zero-gamma": ("every block started as its shortcut", [("start_blocks_as_identity(model)\n", "\n")]),
    "no label smoothing": ("label smoothing 0.1", [("label_smoothing=0.1", "label_smoothing=0.0")]),
    "batches of 32": ("batches of 16", [("BATCH_SIZE = 16", "BATCH_SIZE = 32")]),
    "constant learning rate": ("the cosine schedule (constant 2e-3 instead)", [
        ("keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(2e-3, steps))",
         "keras.optimizers.Adam(2e-3)")]),
    "BatchNorm momentum 0.99": ("BatchNorm momentum 0.9 (Keras's default 0.99 instead)", [
        ("layer.momentum = 0.9", "layer.momentum = 0.99")]),
}
# the two choices made after training, measured on every trained model: (precise BatchNorm, mirrored)
READINGS = {"as trained": (False, False), "precise BatchNorm": (True, False), "mirrored": (False, True),
            "both (the notebook)": (True, True)}


def variant_cell(variant: str) -> str:
    """Notebook 04's recipe cell with ``variant``'s choice taken out."""
    source = recipe_cell()
    for old, new in VARIANTS[variant][1]:
        if source.count(old) != 1:
            raise ValueError(f"variant {variant!r}: notebook 04's recipe cell no longer contains {old!r} once; "
                             "update bench/recipe_ablation.VARIANTS to the cell's text.")
        source = source.replace(old, new)
    return source


def cross_entropy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean cross-entropy of predicted probabilities against integer labels (no label smoothing)."""
    picked = probabilities[np.arange(len(labels)), labels]
    return float(-np.log(np.clip(picked, 1e-7, 1.0)).mean())


def read(model, x: np.ndarray, mirrored: bool) -> np.ndarray:
    """Class probabilities, as read (``mirrored``: as notebook 04 reads, averaged with the mirror image's)."""
    return predict_with_mirror_image(model, x, 64) if mirrored else model.predict(x, batch_size=64, verbose=0)


def scores(model, x_val, y_val, stress_x, stress_y, mirrored: bool) -> dict:
    val, stress = read(model, x_val, mirrored), read(model, stress_x, mirrored)
    recall = recall_per_class(stress_y, stress.argmax(axis=1), val.shape[1])
    return {"validation_loss": round(cross_entropy(val, y_val), 4),
            "validation_accuracy": round(float((val.argmax(axis=1) == y_val).mean()), 4),
            "stress_loss": round(cross_entropy(stress, stress_y), 4),
            "stress_recall": recall, "stress_mean": round(float(np.mean(recall)), 4),
            "stress_lowest": min(recall)}


def train_variant(variant: str, seed: int, stress) -> dict:
    import keras

    check_environment()
    (x_train, y_train), (x_val, y_val), _ = signs_for_training()   # the test images are not used
    ns = apply_recipe(course_resnet50()(input_shape=(64, 64, 3), classes=6), x_train, y_train, variant_cell(variant))
    model = ns["model"]
    if variant == "no augmentation":   # the cell's pipeline, with every image passed through unchanged
        ns["augment"] = keras.layers.Identity()
    start = time.perf_counter()
    history = model.fit(augmented_batches(x_train, y_train, ns["augment"], ns["BATCH_SIZE"], seed=seed),
                        epochs=ns["EPOCHS"], validation_data=test_batches(x_val, y_val, ns["BATCH_SIZE"]),
                        shuffle=False, verbose=0)
    seconds = round(time.perf_counter() - start, 1)
    labels = y_val.argmax(axis=1)
    stress_x, stress_y = (stress[0] / 255.0).astype(np.float32), stress[1]
    run = {"variant": variant, "seed": seed, "epochs": ns["EPOCHS"], "seconds": seconds,
           "training_loss": [round(float(v), 4) for v in history.history["loss"]],
           "validation_loss_per_epoch": [round(float(v), 4) for v in history.history["val_loss"]],
           "readings": {}}
    for name, (precise, mirrored) in READINGS.items():   # moving averages first: the re-measure replaces them
        if not precise:
            run["readings"][name] = scores(model, x_val, labels, stress_x, stress_y, mirrored)
    finish_training(ns, x_train, x_val, y_val)
    for name, (precise, mirrored) in READINGS.items():
        if precise:
            run["readings"][name] = scores(model, x_val, labels, stress_x, stress_y, mirrored)
    keras.backend.clear_session()
    both = run["readings"]["both (the notebook)"]
    print(f"  {variant:<24} seed {seed}: {seconds:5.0f} s; validation loss {both['validation_loss']:.3f}, "
          f"accuracy {both['validation_accuracy']:.3f}; stress recall mean {both['stress_mean']:.3f}, "
          f"lowest {both['stress_lowest']:.2f}", flush=True)
    return run


# notebook 04's table: (what is left out, the variant trained, the reading of its models)
NOTEBOOK_ROWS = [("nothing", "final", "both (the notebook)"),
                 ("augmentation", "no augmentation", "both (the notebook)"),
                 ("zero-$\\gamma$", "no zero-gamma", "both (the notebook)"),
                 ("label smoothing", "no label smoothing", "both (the notebook)"),
                 ("batches of 16 (32)", "batches of 32", "both (the notebook)"),
                 ("cosine schedule (constant)", "constant learning rate", "both (the notebook)"),
                 ("BatchNorm momentum 0.9 (0.99)", "BatchNorm momentum 0.99", "both (the notebook)"),
                 ("precise BatchNorm", "final", "mirrored"),
                 ("mirrored reading", "final", "precise BatchNorm")]


def notebook_table(runs: list[dict]) -> str:
    """The Markdown table notebook 04 shows, from the committed runs: one row per choice left out, with the
    validation loss and the stress set's weakest sign, each cell the seeds' values in order, separated by
    slashes. A test checks the notebook holds it verbatim."""
    seeds = sorted({r["seed"] for r in runs if r["variant"] == "final"})
    lines = ["| left out | validation loss | stress set, weakest sign |", "|---|---|---|"]
    for label, variant, reading in NOTEBOOK_ROWS:
        by_seed = {r["seed"]: r["readings"][reading] for r in runs if r["variant"] == variant}
        if sorted(by_seed) != seeds:
            raise ValueError(f"{variant!r} has seeds {sorted(by_seed)}, the final recipe {seeds}: run the ablation "
                             "for every variant on the same seeds")
        cells = [" / ".join(format(by_seed[s][key], fmt) for s in seeds)
                 for key, fmt in (("validation_loss", ".3f"), ("stress_lowest", ".2f"))]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table(runs: list[dict]) -> str:
    """Notebook 04's rows with the stress set's mean recall as well, then the final recipe's models read the four
    ways; each cell lists the seeds' values in order."""
    def values(rows, reading, key, fmt):
        return " ".join(format(r["readings"][reading][key], fmt) for r in sorted(rows, key=lambda r: r["seed"]))

    header = f"{'left out':<32} {'validation loss':>16} {'stress recall mean':>19} {'weakest sign':>13}"
    lines = ["Leave-one-out from notebook 04's recipe (values per seed)", header]
    for label, variant, reading in NOTEBOOK_ROWS:
        rows = [r for r in runs if r["variant"] == variant]
        if rows:
            plain = label.replace("$\\gamma$", "gamma")
            lines.append(f"{plain:<32} {values(rows, reading, 'validation_loss', '.3f'):>16} "
                         f"{values(rows, reading, 'stress_mean', '.3f'):>19} "
                         f"{values(rows, reading, 'stress_lowest', '.2f'):>13}")
    final = [r for r in runs if r["variant"] == "final"]
    if final:
        lines += ["", "The final recipe's models, read four ways", header.replace("left out", "reading ")]
        for reading in READINGS:
            lines.append(f"{reading:<32} {values(final, reading, 'validation_loss', '.3f'):>16} "
                         f"{values(final, reading, 'stress_mean', '.3f'):>19} "
                         f"{values(final, reading, 'stress_lowest', '.2f'):>13}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--stress-per-class", type=int, default=50)
    parser.add_argument("--name", default="recipe_ablation", help="results file name (before the machine tag)")
    parser.add_argument("--table", action="store_true", help="print the table of the committed results and stop")
    args = parser.parse_args(argv)
    path = results_path(args.name)
    result = json.loads(path.read_text()) if path.exists() else {
        "machine": describe_machine(), "stress_set": {"per_class": args.stress_per_class}, "runs": []}
    if not args.table:
        generator = make_signs()
        stress = generator.make_stress_set(per_class=result["stress_set"]["per_class"])
        result["stress_set"].update(seed=generator.DEFAULT_SEED, images=len(stress[1]))
        for variant in args.variants:
            variant_cell(variant)   # every edit still finds its text, before hours of training
        for seed in args.seeds:
            for variant in args.variants:
                if any(r["variant"] == variant and r["seed"] == seed for r in result["runs"]):
                    continue
                result["runs"].append(train_variant(variant, seed, stress))
                path.write_text(json.dumps(result, indent=1) + "\n")
    print("\n" + table(result["runs"]))
    print(f"results in {path}")


if __name__ == "__main__":
    main()
