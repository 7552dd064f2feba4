"""He et al.'s Figure 4 with convolutions: the paper's CIFAR-10 nets (section 4.2), plain and residual, of 20
and 56 layers, trained on the hand images at 32x32 over many seeds.

    python -m bench.figure4                       # seeds 1-10, 400 steps each: about an hour on 2 cores
    python -m bench.figure4 --seeds 11-20 --append
    python -m bench.figure4 --seeds 1 --steps 800 --lr 0.1 --name figure4_lr0.1   # the paper's learning rate

For each net and seed (``resnets_course.cifar_nets.train``): the training error of every epoch as the net trained,
the final training error in inference mode on all 1080 images, and at initialisation the norm of the loss's
gradient for every convolution's kernel (first layer first). The result is written after every seed, so a long
run that is stopped keeps what it measured; --append adds seeds to the result already there. Counts: the seeds on
which each net fits (final training error below 1%) or stalls (above half of chance), on which each of the paper's
comparisons holds, and on which each residual net gets below 10% training error first. Notebook 05 plots
bench/results/figure4-amd-epyc-2t.json beside its own short run and quotes its counts (tests/test_quoted_numbers.py).
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from bench.machine import describe_machine, results_path
from bench.numpy_experiments import seed_range
from resnets_course.cifar_nets import CHANCE, NETS, STALL, figure4_conv_table, hand_images_32, train


def first_epoch_below(errors: list[float], level: float = 0.1) -> int | None:
    """The first epoch (counting from 1) whose training error is below ``level``; None if none is."""
    return next((epoch for epoch, error in enumerate(errors, 1) if error < level), None)


def counts(nets: dict) -> dict:
    """How many seeds each statement holds on, from the stored curves (seeds in the same order)."""
    final = {name: np.array([run["final_error"] for run in runs]) for name, runs in nets.items()}
    never = 10 ** 6
    first = {name: np.array([first_epoch_below(run["epoch_errors"]) or never for run in runs])
             for name, runs in nets.items()}
    found = {}
    for name, errors in final.items():
        found[f"{name} fits (final training error below 1%)"] = int((errors < 0.01).sum())
        found[f"{name} stalls (final training error above {STALL:.0%})"] = int((errors > STALL).sum())
    found.update({
        "plain-56 ends above plain-20": int((final["plain-56"] > final["plain-20"]).sum()),
        "residual-56 ends below plain-56": int((final["residual-56"] < final["plain-56"]).sum()),
        "residual-20 ends below plain-20": int((final["residual-20"] < final["plain-20"]).sum()),
        "residual-56 ends below residual-20": int((final["residual-56"] < final["residual-20"]).sum()),
        "residual-56 ends above residual-20": int((final["residual-56"] > final["residual-20"]).sum()),
        "residual-56 gets below 10% in an earlier epoch than residual-20":
            int((first["residual-56"] < first["residual-20"]).sum()),
        "residual-20 gets below 10% in an earlier epoch than residual-56":
            int((first["residual-20"] < first["residual-56"]).sum()),
    })
    return found


def run(seeds: list[int], steps: int, lr: float, name: str = "figure4", previous: dict | None = None) -> dict:
    data = hand_images_32()
    nets = previous["nets"] if previous else {f"{kind}-{depth}": [] for kind, depth in NETS}
    done = previous["seeds"] if previous else []
    seconds = previous["seconds"] if previous else 0.0
    path = results_path(name)
    result = previous
    for seed in seeds:
        for kind, depth in NETS:
            start = time.perf_counter()
            measured = train(kind, depth, seed, steps, lr=lr, data=data)
            took = time.perf_counter() - start
            seconds += took
            nets[f"{kind}-{depth}"].append({
                "seed": seed, "final_error": round(measured["final_error"], 4), "seconds": round(took, 1),
                "epoch_errors": [round(e, 4) for e in measured["epoch_errors"]],
                "gradient_norms_at_init": [float(f"{g:.3g}") for g in measured["gradient_norms_at_init"]]})
            print(f"seed {seed:2d} {kind}-{depth:<3d} final training error {measured['final_error']:.3f} "
                  f"({took:.0f} s)", flush=True)
        done = done + [seed]
        result = {"machine": describe_machine(), "seeds": done, "steps": steps, "batch_size": 64,
                  "schedule": f"SGD, momentum 0.9, weight decay 1e-4, lr {lr}, /10 at steps/2 and 3*steps/4", "lr": lr,
                  "chance_error": round(CHANCE, 4), "counts": counts(nets), "nets": nets,
                  "seconds": round(seconds, 1)}
        path.write_text(json.dumps(result, indent=1) + "\n")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="1-10", help="a seed or a range (default 1-10)")
    parser.add_argument("--steps", type=int, default=400, help="training steps per net (default 400)")
    parser.add_argument("--lr", type=float, default=0.02, help="the initial learning rate (default 0.02)")
    parser.add_argument("--append", action="store_true", help="add these seeds to the result already written")
    parser.add_argument("--name", default="figure4", help="the result's name in bench/results/ (default figure4, "
                                                          "the one notebook 05 plots)")
    args = parser.parse_args()
    previous = json.loads(results_path(args.name).read_text()) if args.append else None
    if previous and (previous["steps"], previous.get("lr", 0.1)) != (args.steps, args.lr):
        parser.error(f"the result there ran {previous['steps']} steps per net at lr {previous.get('lr', 0.1)}")
    result = run(seed_range(args.seeds), args.steps, args.lr, args.name, previous)
    print(figure4_conv_table(result))
    print(f"{result['seconds']:.0f} s; written to {results_path(args.name)}")


if __name__ == "__main__":
    main()
