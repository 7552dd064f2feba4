"""Notebook 05's Figure 4 in miniature (fully connected nets on SIGNS at 8x8) over ten seeds.

    python -m bench.figure4_mlp                  # seeds 1-10, about 2 minutes on a 2-core CPU
    python -m bench.figure4_mlp --seeds 1-20

For each of plain-18, plain-34, residual-18 and residual-34 (``resnets_course.degradation``) and each seed:
the training error after every epoch of the notebook's 20, and, at initialisation, the norm of the gradient
of the first block's first weight matrix divided by that of the last hidden layer's (on all 1080 training
images). A ratio far above 1 means the gradient grows towards the input (explodes); far below 1, it vanishes.
Notebook 05's prose quotes these numbers; tests/test_quoted_numbers.py ties them to
bench/results/figure4_mlp-<machine>.json.
"""
from __future__ import annotations

import time

import numpy as np

from bench.machine import describe_machine
from bench.numpy_experiments import run_over_seeds
from resnets_course.degradation import NETS, figure4_gradient_ratios, figure4_runs


def measure(seeds: list[int], epochs: int = 20) -> dict:
    start = time.perf_counter()
    errors = figure4_runs(tuple(seeds), epochs=epochs)
    ratios = figure4_gradient_ratios(tuple(seeds))
    nets = {}
    for kind, depth in NETS:
        runs = errors[kind, depth]
        nets[f"{kind}-{depth}"] = {
            "final_error": [round(float(e), 4) for e in runs[:, -1]],
            "error_after_10": [round(float(e), 4) for e in runs[:, 9]],
            "gradient_ratio_at_init": [float(f"{r:.3g}") for r in ratios[kind, depth]],
            "curves": [[round(float(e), 4) for e in row] for row in runs]}
    final = {name: np.array(net["final_error"]) for name, net in nets.items()}
    comparisons = {
        "plain-34 ends above plain-18": int((final["plain-34"] > final["plain-18"]).sum()),
        "residual-34 ends below plain-34": int((final["residual-34"] < final["plain-34"]).sum()),
        "residual-18 ends below plain-18": int((final["residual-18"] < final["plain-18"]).sum()),
        "residual-34 ends below residual-18": int((final["residual-34"] < final["residual-18"]).sum()),
    }
    return {"machine": describe_machine(), "seeds": seeds, "epochs": epochs, "chance_error": round(5 / 6, 4),
            "nets": nets, "comparisons": comparisons, "seconds": round(time.perf_counter() - start, 1)}


def table(result: dict) -> str:
    n = len(result["seeds"])
    lines = [f"{'net':12s} {'final training error':>22s} {'gradient ratio at init':>26s}   (min-max over {n} seeds)"]
    for name, net in result["nets"].items():
        e, r = net["final_error"], net["gradient_ratio_at_init"]
        lines.append(f"{name:12s} {100 * min(e):>13.0f}% - {100 * max(e):3.0f}% {min(r):>16.3g} - {max(r):<8.3g}")
    lines.append("")
    lines += [f"{claim}: {count} of {n} seeds" for claim, count in result["comparisons"].items()]
    return "\n".join(lines)


def main() -> None:
    run_over_seeds("figure4_mlp", measure, table, "1-10", __doc__)


if __name__ == "__main__":
    main()
