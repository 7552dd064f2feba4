"""The whole benchmark in one command: the three scripts in turn, then one summary table.

    python -m bench        # about 25 minutes on a 2-core CPU

Runs bench.course_time (every solution notebook), bench.train_speed (the course's ResNet-50 against
keras.applications, 3 alternating rounds) and bench.time_to_accuracy (notebook 04's own seed), each in
a process of its own so that one's TensorFlow state cannot affect another's timing. Then it reads their
results from bench/results/ and prints the four numbers the course promises. Each script also runs
alone, with more options (see its --help).
"""
from __future__ import annotations

import json
import subprocess
import sys

from bench.machine import results_path

SCRIPTS = ("course_time", "train_speed", "time_to_accuracy")


def summary(course_time: dict, train_speed: dict, time_to_accuracy: dict) -> str:
    """The four measurements, from the three scripts' JSON results, as a small table."""
    machine = train_speed["machine"]
    course, reference = train_speed["rows"][0], train_speed["rows"][1]
    run = time_to_accuracy["runs"][0]
    reached = run["first_reached"]
    target = time_to_accuracy["target"]
    total = course_time["total_seconds"]
    if "fp32_matmul_gflops" in train_speed:   # measured in the same run
        of_peak = (f", {100 * course['fraction_of_fp32_matmul']:.0f}% of a float32 matrix product's "
                   f"{train_speed['fp32_matmul_gflops']:.0f}")
    else:   # results from before 2026-12-07 hold an estimate from the nominal clock instead
        peak = train_speed["fp32_peak_gflops_estimate"]
        of_peak = f", {100 * course['fraction_of_fp32_peak']:.0f}% of an estimated {peak:.0f} FP32 peak" if peak else ""
    rows = [
        ("course re-execution", f"{total:.0f} s ({total / 60:.1f} min) for {len(course_time['notebooks'])} notebooks"),
        ("ResNet-50 training speed",
         f"{course['images_per_second']:.1f} img/s, {course['images_per_second'] / reference['images_per_second']:.2f}x "
         f"keras.applications ({reference['images_per_second']:.1f} img/s)"),
        ("first epoch (tracing)", f"{course['first_epoch_seconds']:.1f} s ({course['tracing_overhead_seconds']:.1f} s "
                                  f"more than an epoch)"),
        ("achieved GFLOP/s", f"{course['gflops']:.0f}{of_peak}"),
        (f"time to >= {target:.0%} validation accuracy",
         (f"{reached['seconds']:.0f} s (epoch {reached['epoch']} of {run['epochs']}, seed {run['seed']})"
          if reached else f"not reached in {run['epochs']} epochs (seed {run['seed']})")
         + f"; final test accuracy {run['final_test_accuracy']:.3f}"),
    ]
    title = (f"ResNet course benchmark on {machine['cpu']} ({machine['threads']} threads), "
             f"TF {machine['tensorflow']}, Keras {machine['keras']}")
    return "\n".join([title] + [f"  {name:<34} {value}" for name, value in rows])


def main() -> None:
    for script in SCRIPTS:
        print(f"== python -m bench.{script}", flush=True)
        subprocess.run([sys.executable, "-m", f"bench.{script}"], check=True)
    results = {script: json.loads(results_path(script).read_text()) for script in SCRIPTS}
    print("\n" + summary(**results))


if __name__ == "__main__":
    main()
