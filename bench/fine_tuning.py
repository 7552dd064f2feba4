"""Fine-tuning notebook 04's ResNet-50 on real photographs (for notebook 06): the choices, made on the real
validation split, and then the value of pretraining, k photos per sign at a time.

    python -m bench.fine_tuning --choose              # which stage to start from, which rate, how many epochs
    python -m bench.fine_tuning --sweep --seeds 1 2 3  # fine-tuned and from scratch, k = 5, 10, 20 and all
    python -m bench.fine_tuning --other PHOTOS --seeds 1 2 3   # photos from another source, before and after

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

``--other PHOTOS`` asks whether what fine-tuning learns from one set of photographs carries over to photos
taken elsewhere, of other hands. PHOTOS is any set ``load_photo_set`` reads (a folder per sign, or a SIGNS
.h5 file such as the original assignment's test_signs.h5), never in the repository. For each seed, notebook
04's model trained with that data-order seed (kept in build/bench/) reads them, is fine-tuned on the whole
pool as notebook 06 does (the same seed), and reads them again; the real validation and test splits are read
beside them, before and after, so that the run also shows what fine-tuning does to models other than seed 1's.
Results go to bench/results/other_photos-<machine>.json with the file's SHA-256, so that a reader can tell
which set was read.
"""
from __future__ import annotations

import argparse
import hashlib
import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from bench.course import NOTEBOOKS, apply_recipe, course_resnet50, finish_training, signs_for_training
from bench.machine import describe_machine, results_path
from bench.recipe_ablation import cross_entropy
from resnets_course import transfer
from resnets_course.errors import CourseError
from resnets_course.transfer import correct_per_sign, first_layer_of_stage, photos_per_sign
from resnets_utils import (REPO, augmented_batches, check_environment, import_exercise, load_real_photos,
                           predict_with_mirror_image)

CACHE = REPO / "build" / "bench"
STAGES = ["head", 5, 4, 2]
RATES = [1e-4, 3e-4, 1e-3]
KS = [5, 10, 20, None]
BATCH = 16


@lru_cache(maxsize=None)
def prepare_fine_tuning():
    """The reference solution of notebook 06's exercise: its graded cell."""
    return import_exercise("06_transfer_learning.ipynb", "prepare_fine_tuning", folder=NOTEBOOKS)


def augmentation():
    """Notebook 04's augmentation, read from its recipe cell."""
    ns = apply_recipe(course_resnet50()(input_shape=(64, 64, 3), classes=6), *signs_for_training()[0])
    return ns["augment"]


def trained_with_recipe(x, y1, seed: int, validation=None):
    """A fresh course ResNet-50 trained on (x, y1) by notebook 04's recipe cell, then BatchNorm's statistics
    re-measured on x, as the notebook does; ``validation`` (x, y1) is only what that step prints its accuracy
    on."""
    ns = apply_recipe(course_resnet50()(input_shape=(64, 64, 3), classes=6), x, y1)
    ns["model"].fit(augmented_batches(x, y1, ns["augment"], ns["BATCH_SIZE"], seed=seed), epochs=ns["EPOCHS"],
                    shuffle=False, verbose=0)
    finish_training(ns, x, *(validation or (x[:1], y1[:1])))
    return ns["model"]


def pretrained_model(path: Path | None, seed: int = 1):
    """Notebook 04's model, trained with its recipe on data-order ``seed`` (cached), or the file at ``path``."""
    import keras

    path = path or CACHE / f"resnet50_signs-seed{seed}.keras"
    if not path.exists():
        print(f"training notebook 04's model (seed {seed}) for {path}", flush=True)
        (x_train, y_train), validation, _ = signs_for_training()
        model = trained_with_recipe(x_train, y_train, seed=seed, validation=validation)
        path.parent.mkdir(parents=True, exist_ok=True)
        keras.Model(model.inputs, model.outputs, name=model.name).save(path)
    return keras.models.load_model(path)


def real(split: str):
    x, y = load_real_photos(split)
    return (x / 255.0).astype(np.float32), y, np.eye(6, dtype=np.float32)[y]


def scores(p, y) -> dict:
    """Accuracy and plain cross-entropy of the class probabilities ``p`` against the labels ``y``."""
    return {"accuracy": round(float((p.argmax(axis=1) == y).mean()), 4), "loss": round(cross_entropy(p, y), 4)}


def read(model, x, y) -> dict:
    """Accuracy and plain cross-entropy of ``model`` on (x, y), each image averaged with its mirror image."""
    return scores(predict_with_mirror_image(model, x, 64), y)


def read_by_sign(model, x, y) -> dict:
    """``read`` and, for each sign, how many of its photos were read right (one prediction of the set)."""
    p = predict_with_mirror_image(model, x, 64)
    per_sign = correct_per_sign(p.argmax(axis=1), y)
    return {**scores(p, y), "correct_by_sign": [per_sign.get(s, (0, 0))[0] for s in range(6)],
            "photos_by_sign": [per_sign.get(s, (0, 0))[1] for s in range(6)]}


def fine_tune(model, start, stage, rate, x, y1, epochs, seed, augment, validation=None) -> dict:
    """--choose's run: ``epochs`` epochs of the whole pool, read on the validation split after each."""
    first = first_layer_of_stage(model, stage)
    per_epoch = []

    def after_epoch(epoch):
        if validation is not None:
            per_epoch.append(read(model, *validation[:2]))
            print(f"    epoch {epoch + 1}: validation {per_epoch[-1]}", flush=True)

    seconds = transfer.fine_tune(model, start, prepare_fine_tuning(), first, rate, x, y1, augment,
                                 steps=epochs * int(np.ceil(len(x) / BATCH)), seed=seed, after_epoch=after_epoch)
    return {"first_trainable": first, "seconds": round(seconds, 1), "per_epoch": per_epoch}


#: What --choose chose on the real validation split (bench/README.md says why), as notebook 06 runs it:
#: where fine-tuning starts, the rate, and the number of update steps (the same for every k, so a smaller k
#: sees its photos more often).
CHOSEN = {"stage": transfer.FINE_TUNING_STAGE, "rate": transfer.FINE_TUNING_RATE, "steps": transfer.FINE_TUNING_STEPS}
#: From scratch, two budgets: as many update steps as the fine-tuning (notebook 06's comparison), and as many
#: as notebook 04 takes on its 990 rendered images (32 epochs of 62 batches), so that a small k is not also a
#: short run. The long runs go last, the ends of the curve first: an interrupted sweep resumes.
SCRATCH_BUDGETS = [("from scratch, same steps", transfer.FINE_TUNING_STEPS, KS),
                   ("from scratch", 32 * 62, [None, 5, 20, 10])]


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


def benchmark_summary(runs: list[dict], machine: str) -> dict:
    """The sweep's real-test accuracies as notebook 06 plots them (resnets_course/fine_tuning_benchmark.json):
    for each kind of run and k, one number per seed, in seed order; and the model's before fine-tuning."""
    [start] = [r for r in runs if r["key"]["kind"] == "start"]
    summary = {"source": f"bench/results/fine_tuning-{machine}.json (python -m bench.fine_tuning --sweep)",
               "k": [str(k) if k else "all" for k in KS], "before": start["test"]["accuracy"], "runs": {}}
    seeds = sorted({r["key"]["seed"] for r in runs if r["key"]["kind"] == "fine-tuned"})
    for kind in ["fine-tuned"] + [kind for kind, _, _ in SCRATCH_BUDGETS]:
        found = sorted((r for r in runs if r["key"]["kind"] == kind), key=lambda r: r["key"]["seed"])
        per_k = {str(k) if k else "all": [r["test"]["accuracy"] for r in found if r["key"]["k"] == k] for k in KS}
        # Only a k with every seed run: a bar from the lowest seed to the highest means the same everywhere.
        summary["runs"][kind] = {k: v for k, v in per_k.items() if len(v) == len(seeds)}
    summary["seeds"] = seeds
    return summary


def sweep_table(runs: list[dict]) -> str:
    """The --sweep runs as a Markdown table: for each k, the real-test accuracy of each kind of run on each
    seed (a dash where a run has not been made yet)."""
    seeds = sorted({r["key"]["seed"] for r in runs if r["key"]["kind"] == "fine-tuned"})
    kinds = [("fine-tuned", "fine-tuned (120 steps)"), ("from scratch, same steps", "from scratch, 120 steps"),
             ("from scratch", "from scratch, 1984 steps")]
    lines = ["| photos per sign | " + " | ".join(label for _, label in kinds) + " |", "|---" * (len(kinds) + 1) + "|"]
    for k in KS:
        cells = []
        for kind, _ in kinds:
            found = {r["key"]["seed"]: r["test"]["accuracy"] for r in runs
                     if r["key"]["kind"] == kind and r["key"]["k"] == k}
            cells.append(" / ".join(f"{found[s]:.3f}" if s in found else "-" for s in seeds))
        lines.append(f"| {k or 'all (636)'} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def other_photos_table(photos: dict, runs: list[dict]) -> str:
    """The --other runs as a Markdown table: for each training seed of notebook 04's model, the other photos'
    accuracy (and correct per sign) read by that model and by it fine-tuned as notebook 06 does, and the real
    validation and test splits' accuracy before and after."""
    def cell(r):
        return f"{r['accuracy']:.3f} ({', '.join(map(str, r['correct_by_sign']))})"

    lines = [f"{photos['photos']} photos ({photos['name']}, SHA-256 {photos['sha256'][:12]}…), correct per sign "
             f"of {', '.join(map(str, runs[0]['notebook 04']['other']['photos_by_sign']))}:", "",
             "| 04's seed | other photos: 04's model | fine-tuned | real validation: 04's, fine-tuned "
             "| real test: 04's, fine-tuned |",
             "|---|---|---|---|---|"]
    for r in runs:
        before, after = r["notebook 04"], r["fine-tuned"]
        lines.append(f"| {r['seed']} | {cell(before['other'])} | {cell(after['other'])} | "
                     f"{before['validation']['accuracy']:.3f}, {after['validation']['accuracy']:.3f} | "
                     f"{before['test']['accuracy']:.3f}, {after['test']['accuracy']:.3f} |")
    return "\n".join(lines)


def read_other_photos(photos: Path, seeds: list[int]) -> None:
    """--other: notebook 04's model of each seed, and it fine-tuned on the whole pool, read ``photos``."""
    from resnets_course.data import load_photo_set

    other = load_photo_set(photos)
    described = {"name": photos.name, "photos": len(other[1]),
                 "sha256": hashlib.sha256(photos.read_bytes()).hexdigest() if photos.is_file() else None}
    other = ((other[0] / 255.0).astype(np.float32), other[1])
    path = results_path("other_photos")
    runs = []
    x, _, y1 = real("train")
    test, validation = real("test")[:2], real("validation")[:2]
    augment = augmentation()
    for seed in seeds:
        model = pretrained_model(None, seed)
        first = first_layer_of_stage(model, CHOSEN["stage"])
        run = {"seed": seed, "notebook 04": {"other": read_by_sign(model, *other), "test": read(model, *test),
                                             "validation": read(model, *validation)}}
        print(f"  seed {seed}: notebook 04's model {run['notebook 04']}; fine-tuning", flush=True)
        seconds = transfer.fine_tune(model, model.get_weights(), prepare_fine_tuning(), first, CHOSEN["rate"],
                                     x, y1, augment, CHOSEN["steps"], seed)
        run["fine-tuned"] = {"other": read_by_sign(model, *other), "test": read(model, *test),
                             "validation": read(model, *validation), "seconds": round(seconds, 1), **CHOSEN}
        runs.append(run)
        path.write_text(json.dumps({"machine": describe_machine(), "photos": described, "runs": runs}, indent=1)
                        + "\n")
    print(other_photos_table(described, runs))
    print(f"wrote {path}")


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
    parser.add_argument("--other", type=Path, metavar="PHOTOS",
                        help="photos from another source (a folder per sign or a SIGNS .h5 file), not in the repo")
    parser.add_argument("--table", action="store_true", help="print the committed --choose runs and stop")
    parser.add_argument("--export", action="store_true",
                        help="write the committed sweep to resnets_course/fine_tuning_benchmark.json and stop")
    args = parser.parse_args(argv)
    path = results_path("fine_tuning")
    if args.table:
        runs = json.loads(path.read_text())["runs"]
        print(choose_table(runs))
        print(sweep_table(runs))
        return
    if args.export:
        summary = benchmark_summary(json.loads(path.read_text())["runs"], path.stem.removeprefix("fine_tuning-"))
        transfer.BENCHMARK.write_text(json.dumps(summary, indent=1) + "\n")
        print(f"wrote {transfer.BENCHMARK}")
        return
    check_environment()
    if args.other:
        try:
            read_other_photos(args.other, args.seeds)
        except CourseError as e:   # a photo set that is missing or not of the signs: say so, no traceback
            raise SystemExit(str(e)) from None
        return
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
        test = real("test")
        draws = {(seed, k): photos_per_sign(x, y, k, seed) for seed in args.seeds for k in KS}
        first = first_layer_of_stage(model, CHOSEN["stage"])
        for seed in args.seeds:
            for k in KS:
                key = {"kind": "fine-tuned", "k": k, "seed": seed, **CHOSEN}
                if json.dumps(key) in done:
                    continue
                print(f"  seed {seed}, k={k}: fine-tuned", flush=True)
                xk, yk = draws[seed, k]
                seconds = transfer.fine_tune(model, start, prepare_fine_tuning(), first, CHOSEN["rate"], xk,
                                             np.eye(6, dtype=np.float32)[yk], augment, CHOSEN["steps"], seed)
                runs.append({"key": key, "first_trainable": first, "seconds": round(seconds, 1), "photos": len(xk),
                             "validation": read(model, *validation[:2]), "test": read(model, *test[:2])})
                save(runs, path)
        fresh = course_resnet50()(input_shape=(64, 64, 3), classes=6)
        initial = fresh.get_weights()
        for kind, steps, ks in SCRATCH_BUDGETS:
            for k in ks:
                for seed in args.seeds:
                    key = {"kind": kind, "k": k, "seed": seed, "steps": steps}
                    if json.dumps(key) in done:
                        continue
                    print(f"  seed {seed}, k={k}: {kind} ({steps} steps)", flush=True)
                    xk, yk = draws[seed, k]
                    seconds = transfer.train_from_scratch(fresh, initial, xk, np.eye(6, dtype=np.float32)[yk],
                                                          augment, steps, seed)
                    runs.append({"key": key, "seconds": round(seconds, 1), "photos": len(xk),
                                 "validation": read(fresh, *validation[:2]), "test": read(fresh, *test[:2])})
                    save(runs, path)
    if len(runs) > runs_before:
        save(runs, path)
    if any(r["key"]["kind"] == "choose" for r in runs):
        print(choose_table(runs))
    if any(r["key"]["kind"] == "fine-tuned" for r in runs):
        print(sweep_table(runs))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
