"""Fine-tuning notebook 04's ResNet-50 on real photographs (for notebook 06): the choices, made on the real
validation split, and then the value of pretraining, k photos per sign at a time.

    python -m bench.fine_tuning --choose              # which stage to start from, which rate, how many epochs
    python -m bench.fine_tuning --sweep --seeds 1 2 3  # fine-tuned and from scratch, k = 5, 10, 20 and all

The model fine-tuned is notebook 04's, trained with its recipe (data-order seed 1) by bench.time_to_accuracy's
code and kept in build/bench/ (or ``--model PATH``, e.g. the file notebook 04 saved). Each run starts from
its weights (``set_weights`` on one model object), is prepared for fine-tuning by the reference solution of
notebook 06's exercise (the layers before ``first_trainable`` frozen, every BatchNormalization in inference
mode, Adam at a constant rate), and trains on real training photos (datasets/real, 12 and 14 December) with
notebook 04's augmentation, in batches of 16.

``--choose`` tries every stage to start from and rate on the whole pool (seed 1), and records the real
validation split's accuracy and cross-entropy after every epoch: the choices are made on these, never on
the test split. ``--sweep`` then fine-tunes with the chosen settings on k photos per sign (drawn with the
seed), and trains the same network from scratch with notebook 04's recipe on the same photos; both are
read once on the real test split. Results go to bench/results/fine_tuning-<machine>.json, run by run (an
interrupted run resumes).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from bench.course import apply_recipe, course_resnet50, finish_training, recipe_cell, signs_for_training
from bench.machine import describe_machine, results_path
from bench.recipe_ablation import cross_entropy
from resnets_course.transfer import first_layer_of_stage, photos_per_sign
from resnets_utils import (REPO, augmented_batches, check_environment, load_real_photos, predict_with_mirror_image,
                           test_batches)

CACHE = REPO / "build" / "bench"
STAGES = ["head", 5, 4, 2]
RATES = [1e-4, 3e-4, 1e-3]
KS = [5, 10, 20, None]
BATCH = 16


def prepare_fine_tuning():
    """The reference solution of notebook 06's exercise (tests/transfer_mistakes.py holds it until 06 does)."""
    from tests.transfer_mistakes import SOLUTION

    namespace = {}
    exec("import keras\n" + SOLUTION, namespace)
    return namespace["prepare_fine_tuning"]


def augmentation():
    """Notebook 04's augmentation, read from its recipe cell."""
    ns = apply_recipe(course_resnet50()(input_shape=(64, 64, 3), classes=6), *signs_for_training()[0])
    return ns["augment"]


def trained_with_recipe(x, y1, seed: int, source: str | None = None, validation=None):
    """A fresh course ResNet-50 trained on (x, y1) by notebook 04's recipe cell (or ``source``, a variant of
    it), then BatchNorm's statistics re-measured on x, as the notebook does; ``validation`` (x, y1) is only
    what that step prints its accuracy on."""
    ns = apply_recipe(course_resnet50()(input_shape=(64, 64, 3), classes=6), x, y1, source=source)
    ns["model"].fit(augmented_batches(x, y1, ns["augment"], ns["BATCH_SIZE"], seed=seed), epochs=ns["EPOCHS"],
                    shuffle=False, verbose=0)
    finish_training(ns, x, *(validation or (x[:1], y1[:1])))
    return ns["model"]


def pretrained_model(path: Path | None):
    """Notebook 04's model, trained with its recipe on seed 1 (cached), or the file at ``path``."""
    import keras

    path = path or CACHE / "resnet50_signs-seed1.keras"
    if not path.exists():
        print(f"training notebook 04's model (seed 1) for {path}", flush=True)
        (x_train, y_train), validation, _ = signs_for_training()
        model = trained_with_recipe(x_train, y_train, seed=1, validation=validation)
        path.parent.mkdir(parents=True, exist_ok=True)
        keras.Model(model.inputs, model.outputs, name=model.name).save(path)
    return keras.models.load_model(path)


def real(split: str):
    x, y = load_real_photos(split)
    return (x / 255.0).astype(np.float32), y, np.eye(6, dtype=np.float32)[y]


def read(model, x, y) -> dict:
    """Accuracy and plain cross-entropy of ``model`` on (x, y), each image averaged with its mirror image."""
    p = predict_with_mirror_image(model, x, 64)
    return {"accuracy": round(float((p.argmax(axis=1) == y).mean()), 4), "loss": round(cross_entropy(p, y), 4)}


def fine_tune(model, start, stage, rate, x, y1, epochs, seed, augment, validation=None) -> dict:
    model.set_weights(start)
    first = first_layer_of_stage(model, stage)
    prepare_fine_tuning()(model, first, rate)
    per_epoch = []
    clock = time.perf_counter()
    for epoch in range(epochs):
        model.fit(augmented_batches(x, y1, augment, BATCH, seed=seed + 1000 * epoch), epochs=1, shuffle=False,
                  verbose=0)
        if validation is not None:
            per_epoch.append(read(model, *validation[:2]))
            print(f"    epoch {epoch + 1}: validation {per_epoch[-1]}", flush=True)
    return {"first_trainable": first, "seconds": round(time.perf_counter() - clock, 1), "per_epoch": per_epoch}


#: What --choose chose on the real validation split (None until it has run): where fine-tuning starts, the
#: rate, and the number of update steps (the same for every k, so a smaller k sees its photos more often).
CHOSEN = None


def _epochs_for(n: int, steps: int) -> int:
    return max(1, round(steps / int(np.ceil(n / BATCH))))


def from_scratch(x, y1, seed) -> dict:
    """Notebook 04's recipe on these photos alone, from its initial weights, for as many update steps as 04
    takes on its 990 rendered images (32 epochs of 62 batches), so that a small k is not also a short run."""
    epochs = _epochs_for(len(x), 32 * 62)
    source = recipe_cell().replace("EPOCHS = 1 if quick_run() else 32", f"EPOCHS = {epochs}")
    assert source != recipe_cell(), "notebook 04's recipe cell no longer sets EPOCHS as expected"
    clock = time.perf_counter()
    model = trained_with_recipe(x, y1, seed, source)   # BatchNorm re-measured on the photos it trained on
    return {"epochs": epochs, "seconds": round(time.perf_counter() - clock, 1), "model": model}


def choose_table(runs: list[dict]) -> str:
    """The --choose runs as a Markdown table: for each stage to start from and rate, the real validation split's
    accuracy and cross-entropy before fine-tuning, after the first epoch, and after the last."""
    [start] = [r for r in runs if r["key"]["kind"] == "start"]
    chosen = [r for r in runs if r["key"]["kind"] == "choose"]
    lines = ["| fine-tuned from | rate | validation after epoch 1 | after epoch {0} | lowest loss (epoch) |".format(
                 chosen[0]["key"]["epochs"] if chosen else "?"),
             "|---|---|---|---|---|",
             f"| (not fine-tuned) | | {start['validation']['accuracy']:.3f}, loss {start['validation']['loss']:.3f} | | |"]
    for r in chosen:
        first, last = r["per_epoch"][0], r["per_epoch"][-1]
        best = min(range(len(r["per_epoch"])), key=lambda e: r["per_epoch"][e]["loss"])
        stage = "the head" if r["key"]["stage"] == "head" else f"stage {r['key']['stage']}"
        lines.append(f"| {stage} (`{r['first_trainable']}`) | {r['key']['rate']:g} | {first['accuracy']:.3f}, loss "
                     f"{first['loss']:.3f} | {last['accuracy']:.3f}, loss {last['loss']:.3f} | "
                     f"{r['per_epoch'][best]['loss']:.3f} ({best + 1}) |")
    return "\n".join(lines)


def save(runs: list[dict], path: Path) -> None:
    path.write_text(json.dumps({"machine": describe_machine(), "batch": BATCH, "runs": runs}, indent=1) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--choose", action="store_true")
    parser.add_argument("--sweep", action="store_true")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--stages", nargs="+", default=[str(s) for s in STAGES])
    parser.add_argument("--rates", type=float, nargs="+", default=RATES)
    parser.add_argument("--model", type=Path)
    parser.add_argument("--table", action="store_true", help="print the committed --choose runs and stop")
    args = parser.parse_args(argv)
    path = results_path("fine_tuning")
    if args.table:
        print(choose_table(json.loads(path.read_text())["runs"]))
        return
    check_environment()
    runs = json.loads(path.read_text())["runs"] if path.exists() else []
    done = {json.dumps(r["key"]) for r in runs}
    model = pretrained_model(args.model)
    start = model.get_weights()
    augment = augmentation()
    x, y, y1 = real("train")
    validation = real("validation")
    runs_before = len(runs)
    if not any(r["key"] == {"kind": "start"} for r in runs):
        runs.append({"key": {"kind": "start"}, "validation": read(model, *validation[:2]),
                     "test": read(model, *real("test")[:2])})
    if args.choose:
        for stage in [s if s == "head" else int(s) for s in args.stages]:
            for rate in args.rates:
                key = {"kind": "choose", "stage": stage, "rate": rate, "epochs": args.epochs, "seed": 1}
                if json.dumps(key) in done:
                    continue
                print(f"  fine-tune from {stage}, rate {rate:g}", flush=True)
                run = fine_tune(model, start, stage, rate, x, y1, args.epochs, 1, augment, validation)
                runs.append({"key": key, **run})
                save(runs, path)
    if args.sweep:
        if CHOSEN is None:
            raise SystemExit("--sweep needs the settings --choose picks: run it, read its table, set CHOSEN")
        test = real("test")
        for seed in args.seeds:
            for k in KS:
                xk, yk = photos_per_sign(x, y, k, seed)
                yk1 = np.eye(6, dtype=np.float32)[yk]
                key = {"kind": "fine-tuned", "k": k, "seed": seed, **CHOSEN}
                if json.dumps(key) not in done:
                    print(f"  seed {seed}, k={k}: fine-tuned", flush=True)
                    epochs = _epochs_for(len(xk), CHOSEN["steps"])
                    run = fine_tune(model, start, CHOSEN["stage"], CHOSEN["rate"], xk, yk1, epochs, seed, augment)
                    runs.append({"key": key, **run, "epochs": epochs, "test": read(model, *test[:2])})
                    save(runs, path)
                key = {"kind": "from scratch", "k": k, "seed": seed}
                if json.dumps(key) not in done:
                    print(f"  seed {seed}, k={k}: from scratch", flush=True)
                    runs.append({"key": key, **from_scratch(xk, yk1, seed), "test": None})
                    runs[-1]["test"] = read(runs[-1].pop("model"), *test[:2])
                    save(runs, path)
    if len(runs) > runs_before:
        save(runs, path)
    if any(r["key"]["kind"] == "choose" for r in runs):
        print(choose_table(runs))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
