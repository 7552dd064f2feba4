"""Notebook 01's two experiments over many seeds: what its text may say, counted.

    python -m bench.numpy_experiments                 # seeds 1-20, about a minute on a 2-core CPU
    python -m bench.numpy_experiments --seeds 1-50

Gradients at initialisation: for each stack of ``GRADIENT_STACKS``, the smallest and largest ratio of the
gradient's norm at the first block to that at the last block over the seeds.

Degradation: trains each net of ``DEGRADATION_EXPERIMENT`` (a shallow and a deep plain net, and the deep net with
shortcuts, its branches He-initialised or starting at zero) once per seed on the spirals, as notebook 01
does, and counts the seeds on which each fits (loss below 0.01 over the last 100 steps), stalls (above
0.1) and, for the residual nets, gets below 0.01 before both plain nets. The notebook's prose quotes these
counts; tests/test_quoted_numbers.py ties them to bench/results/numpy_experiments-<machine>.json.

The deep plain net's training is chaotic: which of its seeds stall changes with the CPU's matrix kernels,
so its counts are this machine's. The other nets' are not (tests/test_residual_numpy.py).
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from bench.machine import describe_machine, results_path
from resnets_course.numpy_blocks import (DEGRADATION_EXPERIMENT, counts_table, degradation_counts, degradation_runs,
                                        first_step_below, gradient_runs)


def seed_range(text: str) -> list[int]:
    """'1-20' -> [1, ..., 20]; '3' -> [3]."""
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


def run_over_seeds(name: str, measure, table, default_seeds: str, doc: str) -> None:
    """The command line of a seed-sweep benchmark: --seeds, then the result written to results/ and its table."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--seeds", default=default_seeds, help=f"a seed or a range (default {default_seeds})")
    result = measure(seed_range(parser.parse_args().seeds))
    path = results_path(name)
    path.write_text(json.dumps(result, indent=1) + "\n")
    print(table(result))
    print(f"{result['seconds']:.0f} s; written to {path}")


def gradient_ratios(seeds: list[int]) -> dict:
    """'initialisation, stack' -> the smallest and largest first-block / last-block gradient ratio over ``seeds``."""
    ratios = {}
    for (init, stack), norms in gradient_runs(seeds).items():
        ratio = norms[:, 0] / norms[:, -1]
        ratios[f"{init}, {stack}"] = {"min": float(f"{ratio.min():.2g}"), "max": float(f"{ratio.max():.2g}")}
    return ratios


def measure(seeds: list[int], steps: int = 500) -> dict:
    start = time.perf_counter()
    runs = degradation_runs(seeds, steps, nets=DEGRADATION_EXPERIMENT)
    seconds = time.perf_counter() - start
    per_seed = {name: [{"seed": seed, "final_loss": float(f"{losses[i, -100:].mean():.3g}"),
                        "first_below_0.01": first_step_below(losses[i], 0.01)[0]}
                       for i, seed in enumerate(seeds)]
                for name, losses in runs.items()}
    return {"machine": describe_machine(), "seeds": seeds, "gradient_ratios": gradient_ratios(seeds),
            "steps": steps, "fits_below": 0.01, "stalls_above": 0.1,
            "nets": {name: dict(net) for name, net in DEGRADATION_EXPERIMENT.items()},
            "counts": degradation_counts(runs), "runs": per_seed, "seconds": round(seconds, 1)}


def table(result: dict) -> str:
    lines = [f"{'gradient at block 1 / block 25':48s} {'min':>8s} {'max':>8s}"]
    lines += [f"{name:48s} {r['min']:8.0e} {r['max']:8.0e}" for name, r in result["gradient_ratios"].items()]
    lines += ["", counts_table(result["counts"])]
    return "\n".join(lines)


def main() -> None:
    run_over_seeds("numpy_experiments", measure, table, "1-20", __doc__)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
