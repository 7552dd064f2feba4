"""Time to accuracy: train notebook 04's ResNet-50 with notebook 04's own recipe and report, epoch by
epoch, the wall time and the validation accuracy; then score the finished model once on the test set and
on a stress set; with several seeds, how reliably the recipe reaches a target.

    python -m bench.time_to_accuracy                        # the notebook's run (data order seed 1)
    python -m bench.time_to_accuracy --seeds 1 2 3 4 5      # five data orders: is >= 0.95 reliable?
    python -m bench.time_to_accuracy --by-factor            # which shift of the stress set does the harm?

The model, the recipe and the data split are read from the solution notebooks (the graded cells of 02,
03 and 04, 04's data cell, its recipe cell and its cell that re-measures BatchNorm's statistics), so this
measures exactly what a student runs. As in the notebook, the per-epoch accuracy is that of the validation
images held out of the training file, and "first reached" is judged on them; after the last epoch,
BatchNorm's statistics are re-measured on the training images, and the final validation accuracy is the
one with them. The 120 test images are scored once, after that, as the notebook scores them (each image's
prediction averaged with its mirror image's), and then the stress set
(datasets/make_signs.py's make_stress_set), class by class, and the real photographs' test and validation
splits (datasets/real: photos of real hands, never trained on), as the stress set is. The seed changes the
order in which the pipeline shuffles the training images (and so which augmentation each image gets);
the weights' initial values are fixed by the course's seeded initializers. Results go to stdout and, as
JSON, to bench/results/time_to_accuracy-<machine>.json. ``--by-factor`` also scores one stress set per
factor (tilt, size, wall, light, turn), each shifting only that factor in every image, with the confusions
each one causes most (about 2 minutes more on 2 cores: the images are rendered once for every seed).
"""
from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np

from bench.course import apply_recipe, course_resnet50, finish_training, make_signs, signs_for_training
from bench.machine import describe_machine, results_path
from resnets_utils import augmented_batches, check_environment, load_real_photos, predict_with_mirror_image, test_batches

REAL_SPLITS_READ = ("test", "validation")   # the real photographs scored after training (never "train": 06 fine-tunes on it)


def predicted_classes(model, x, batch: int) -> np.ndarray:
    """The signs the model reads as notebook 04 scores them: each image's probabilities averaged with
    those of its mirror image."""
    return predict_with_mirror_image(model, x, batch).argmax(axis=1)


def recall_per_class(true: np.ndarray, predicted: np.ndarray, n_classes: int) -> list[float]:
    """For each class, the fraction of its images the model got right."""
    return [round(float((predicted[true == c] == c).mean()), 4) if (true == c).any() else None
            for c in range(n_classes)]


def top_confusions(true: np.ndarray, predicted: np.ndarray, n: int = 3) -> list[str]:
    """The ``n`` most frequent mistakes as "true>predicted (count)", most frequent first."""
    pairs, counts = np.unique(np.stack([true, predicted])[:, true != predicted], axis=1, return_counts=True)
    order = sorted(range(len(counts)), key=lambda k: (-counts[k], tuple(pairs[:, k])))[:n]
    return [f"{pairs[0, k]}>{pairs[1, k]} ({counts[k]})" for k in order]


def images_needed(target: float, m: int) -> int:
    """The fewest correct images out of ``m`` that reach ``target`` (0.95 of 120 is 114, not 115)."""
    return math.ceil(round(target * m, 6))


def train_once(seed: int, target: float, stress: tuple[np.ndarray, np.ndarray],
               by_factor: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
               real: dict[str, tuple[np.ndarray, np.ndarray]] | None = None) -> dict:
    import keras

    check_environment()
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = signs_for_training()
    ns = apply_recipe(course_resnet50()(input_shape=(64, 64, 3), classes=6), x_train, y_train)
    model, epochs, batch = ns["model"], ns["EPOCHS"], ns["BATCH_SIZE"]

    class Clock(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.start, self.rows = time.perf_counter(), []

        def on_epoch_end(self, epoch, logs=None):
            self.rows.append({"epoch": epoch + 1, "seconds": round(time.perf_counter() - self.start, 1),
                              "validation_accuracy": round(float(logs["val_accuracy"]), 4)})
            print(f"  seed {seed} epoch {epoch + 1:2d}: {self.rows[-1]['seconds']:6.1f} s, "
                  f"validation accuracy {logs['val_accuracy']:.3f}", flush=True)

    clock = Clock()
    model.fit(augmented_batches(x_train, y_train, ns["augment"], batch, seed=seed), epochs=epochs,
              validation_data=test_batches(x_val, y_val, batch), shuffle=False, verbose=0,
              callbacks=[clock])
    reached = next((r for r in clock.rows if r["validation_accuracy"] >= target), None)
    # Then, as the notebook does, BatchNorm's statistics are re-measured with the final weights.
    pass_start = time.perf_counter()
    before, after = finish_training(ns, x_train, x_val, y_val)
    pass_seconds = round(time.perf_counter() - pass_start, 1)

    # The test set, once, after training: nothing above looked at it.
    test_correct = int((predicted_classes(model, x_test, batch) == y_test.argmax(axis=1)).sum())
    stress_x, stress_y = stress
    stress_predicted = predicted_classes(model, (stress_x / 255.0).astype(np.float32), batch)
    run = {"seed": seed, "epochs": epochs,
           "validation_accuracy_with_moving_averages": round(before, 4),
           "final_validation_accuracy": round(after, 4),
           "final_test_accuracy": round(test_correct / len(x_test), 4),
           "test_correct": test_correct, "test_images": len(x_test),
           "test_margin_images": test_correct - images_needed(target, len(x_test)),
           "stress_recall": recall_per_class(stress_y, stress_predicted, y_train.shape[1]),
           "seconds": clock.rows[-1]["seconds"], "batchnorm_pass_seconds": pass_seconds,
           "first_epoch_seconds": clock.rows[0]["seconds"],
           "first_reached": reached, "per_epoch": clock.rows}
    for split, (x, y) in (real or {}).items():
        predicted = predicted_classes(model, (x / 255.0).astype(np.float32), batch)
        run[f"real_{split}_accuracy"] = round(float((predicted == y).mean()), 4)
        run[f"real_{split}_recall"] = recall_per_class(y, predicted, y_train.shape[1])
        run[f"real_{split}_confusions"] = top_confusions(y, predicted, n=5)
    for factor, (x, y) in (by_factor or {}).items():
        predicted = predicted_classes(model, (x / 255.0).astype(np.float32), batch)
        run.setdefault("stress_by_factor", {})[factor] = {
            "recall": recall_per_class(y, predicted, y_train.shape[1]), "confusions": top_confusions(y, predicted)}
    print(f"  seed {seed}: test accuracy {run['final_test_accuracy']:.3f} ({test_correct} of {len(x_test)}), "
          f"stress recall per class {run['stress_recall']}"
          + (f", real test photos {run['real_test_accuracy']:.3f}" if "real_test_accuracy" in run else ""), flush=True)
    return run


def per_sign(values) -> str:
    """'0: 0.84, 1: 0.74, ...': one value per sign, as the table prints recalls."""
    return ", ".join(f"{c}: {v:.2f}" for c, v in enumerate(values))


def table(runs: list[dict], target: float, machine: dict) -> str:
    """The runs side by side, then the test accuracy over seeds and the worst stress recall of each class."""
    reach = f"first val >= {target:.2f}"
    lines = [f"ResNet-50, notebook 04's recipe, on {machine['cpu']} ({machine['threads']} threads)",
             f"{'seed':>4}  {'epochs':>6}  {'final val acc':>13}  {'final test acc':>14}  {'test margin':>11}  "
             f"{'train s':>7}  {'1st epoch s':>11}  {reach:>20}"]
    for r in runs:
        hit = r["first_reached"]
        first = f"epoch {hit['epoch']}, {hit['seconds']:.0f} s" if hit else "never"
        lines.append(f"{r['seed']:>4}  {r['epochs']:>6}  {r['final_validation_accuracy']:>13.3f}  "
                     f"{r['final_test_accuracy']:>14.3f}  {r['test_margin_images']:>+11d}  {r['seconds']:>7.0f}  "
                     f"{r['first_epoch_seconds']:>11.0f}  {first:>20}")
    finals = [r["final_test_accuracy"] for r in runs]
    lines.append(f"test margin: correct test images minus the {images_needed(target, runs[0]['test_images'])} of "
                 f"{runs[0]['test_images']} that {target} needs")
    lines.append(f"final test accuracy: min {min(finals):.3f}, mean {np.mean(finals):.3f}, max {max(finals):.3f}; "
                 f"{sum(f >= target for f in finals)} of {len(finals)} runs end at >= {target}")
    worst = np.min([[np.nan if v is None else v for v in r["stress_recall"]] for r in runs], axis=0)
    lines.append("stress recall, min over seeds, per class: " + per_sign(worst))
    for split in REAL_SPLITS_READ:
        if all(f"real_{split}_accuracy" in r for r in runs):
            read = [r[f"real_{split}_accuracy"] for r in runs]
            lines.append(f"real {split} photos: " + ", ".join(f"{a:.3f}" for a in read) + f" (mean {np.mean(read):.3f}); "
                         "min over seeds per class: " + per_sign(np.min([r[f"real_{split}_recall"] for r in runs], axis=0)))
    for factor in runs[0].get("stress_by_factor", {}):
        scored = [r["stress_by_factor"][factor] for r in runs]
        worst = np.min([s["recall"] for s in scored], axis=0)
        lines.append(f"  only {factor:<5} shifted: mean {np.mean([s['recall'] for s in scored]):.2f}, min over seeds "
                     + per_sign(worst) + f"; seed {runs[0]['seed']}'s commonest mistakes (true>read): " + ", ".join(scored[0]["confusions"]))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--target", type=float, default=0.95)
    parser.add_argument("--stress-per-class", type=int, default=50)
    parser.add_argument("--no-real", action="store_true", help="do not score the real photographs")
    parser.add_argument("--by-factor", action="store_true",
                        help="also score a stress set per factor, each shifting only that one")
    args = parser.parse_args(argv)
    generator = make_signs()
    stress = generator.make_stress_set(per_class=args.stress_per_class)   # rendered once, scored by every seed
    by_factor = {factor: generator.make_stress_set(per_class=args.stress_per_class, factors=(factor,))
                 for factor in generator.STRESS_FACTORS} if args.by_factor else None
    real = None if args.no_real else {split: load_real_photos(split) for split in REAL_SPLITS_READ}
    runs = [train_once(seed, args.target, stress, by_factor, real) for seed in args.seeds]
    machine = describe_machine()
    print("\n" + table(runs, args.target, machine))
    path = results_path("time_to_accuracy")
    path.write_text(json.dumps({"machine": machine, "target": args.target,
                                "stress_set": {"per_class": args.stress_per_class, "seed": generator.DEFAULT_SEED,
                                               "images": len(stress[1]),
                                               "by_factor": list(by_factor or ())},
                                "real_photos": {split: len(y) for split, (_, y) in (real or {}).items()},
                                "runs": runs}, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
