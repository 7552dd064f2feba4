"""Time to accuracy: train notebook 04's ResNet-50 with notebook 04's own recipe and report, epoch by
epoch, the wall time and the test accuracy; with several seeds, how reliably the recipe reaches a target.

    python -m bench.time_to_accuracy                  # the notebook's run (data order seed 1)
    python -m bench.time_to_accuracy --seeds 1 2 3    # three data orders: is >= 0.95 reliable?

The model and the recipe are read from the solution notebooks (the graded cells of 02, 03 and 04 and
04's recipe cell), so this measures exactly what a student runs. The seed changes the order in which
the pipeline shuffles the training images (and so which augmentation each image gets); the weights'
initial values are fixed by the course's seeded initializers. Results go to stdout and, as JSON, to
bench/results/time_to_accuracy-<machine>.json.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from bench.machine import describe_machine, results_path
from bench.course import apply_recipe, course_resnet50, signs_for_training
from resnets_utils import augmented_batches, check_environment, test_batches


def train_once(seed: int, target: float):
    import keras

    check_environment()
    x_train, y_train, x_test, y_test = signs_for_training()
    ns = apply_recipe(course_resnet50()(input_shape=(64, 64, 3), classes=6), x_train, y_train)
    model, epochs, batch = ns["model"], ns["EPOCHS"], ns["BATCH_SIZE"]

    class Clock(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.start, self.rows = time.perf_counter(), []

        def on_epoch_end(self, epoch, logs=None):
            self.rows.append({"epoch": epoch + 1, "seconds": round(time.perf_counter() - self.start, 1),
                              "test_accuracy": round(float(logs["val_accuracy"]), 4)})
            print(f"  seed {seed} epoch {epoch + 1:2d}: {self.rows[-1]['seconds']:6.1f} s, "
                  f"test accuracy {logs['val_accuracy']:.3f}", flush=True)

    clock = Clock()
    model.fit(augmented_batches(x_train, y_train, ns["augment"], batch, seed=seed), epochs=epochs,
              validation_data=test_batches(x_test, y_test, batch), shuffle=False, verbose=0,
              callbacks=[clock])
    reached = next((r for r in clock.rows if r["test_accuracy"] >= target), None)
    return {"seed": seed, "epochs": epochs, "final_test_accuracy": clock.rows[-1]["test_accuracy"],
            "seconds": clock.rows[-1]["seconds"], "first_epoch_seconds": clock.rows[0]["seconds"],
            "first_reached": reached, "per_epoch": clock.rows}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--target", type=float, default=0.95)
    args = parser.parse_args(argv)
    runs = [train_once(seed, args.target) for seed in args.seeds]
    machine = describe_machine()
    print(f"\nResNet-50, notebook 04's recipe, on {machine['cpu']} ({machine['threads']} threads)")
    print(f"{'seed':>4}  {'epochs':>6}  {'final test acc':>14}  {'train s':>7}  {'1st epoch s':>11}  "
          f"{'first >= ' + format(args.target, '.2f'):>16}")
    for r in runs:
        hit = r["first_reached"]
        first = f"epoch {hit['epoch']}, {hit['seconds']:.0f} s" if hit else "never"
        print(f"{r['seed']:>4}  {r['epochs']:>6}  {r['final_test_accuracy']:>14.3f}  {r['seconds']:>7.0f}  "
              f"{r['first_epoch_seconds']:>11.0f}  {first:>16}")
    finals = [r["final_test_accuracy"] for r in runs]
    print(f"final test accuracy: min {min(finals):.3f}, mean {np.mean(finals):.3f}, max {max(finals):.3f}; "
          f"{sum(f >= args.target for f in finals)} of {len(finals)} runs end at >= {args.target}")
    path = results_path("time_to_accuracy")
    path.write_text(json.dumps({"machine": machine, "target": args.target, "runs": runs}, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
