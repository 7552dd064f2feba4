"""Training speed: the course's ResNet-50 against keras.applications.ResNet50, same process, alternating.

    python -m bench.train_speed                     # course vs keras.applications, fp32, TF's default graph mode
    python -m bench.train_speed --xla --bf16        # also the course model with XLA, and with bfloat16 mixed precision
    python -m bench.train_speed --fused-reference   # also keras.applications with the course's fast BatchNorm

Both models train on notebook 04's training images (the SIGNS training file less its validation images)
at 64x64, batch 32, Adam, no augmentation (this measures the model, not the input pipeline). The first
epoch, which traces the training step, is timed apart; then the models take turns for --rounds epochs
each, so that a slower or busier machine affects both alike, and the median epoch gives images/s.
Achieved GFLOP/s counts 2 FLOPs per multiply-add and a training step as 3 forward passes (forward, and
the two products of the backward pass). It is compared with what this machine reaches in the same run
on TensorFlow's float32 product of two 4096x4096 matrices (the best of 5), the most a dense float32
computation gets here, measured rather than computed from a nominal clock (which on an AMD EPYC gave a
"peak" below what the training step reached). The course's model trains with BatchNormalization on TensorFlow's fused kernel, as
check_environment() sets it up (resnets_course.keras_internals), and keras.applications with Keras's own
code; --fused-reference adds keras.applications on the fused kernel, to show how much of the difference
that layer makes.
Results go to bench/results/train_speed-<machine>.json.
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

from bench.course import course_resnet50, signs_for_training
from bench.machine import describe_machine, results_path
from resnets_utils import check_environment, create_training_variables, test_batches

BATCH = 32


def matmul_gflops(n: int = 4096, repeats: int = 5) -> float:
    """GFLOP/s of TensorFlow's float32 product of two n x n matrices on this machine, the best of ``repeats``
    (after one untimed product): the rate a dense float32 computation can reach here."""
    import tensorflow as tf

    a = tf.random.stateless_uniform((n, n), seed=(1, 2))
    b = tf.random.stateless_uniform((n, n), seed=(3, 4))
    tf.linalg.matmul(a, b).numpy()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        tf.linalg.matmul(a, b).numpy()   # .numpy() waits for the product
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 / best / 1e9


def build(kind: str, x, y):
    import keras

    keras.mixed_precision.set_global_policy("mixed_bfloat16" if kind.endswith("bf16") else "float32")
    if kind.startswith("keras"):
        model = keras.applications.ResNet50(weights=None, input_shape=(64, 64, 3), classes=6)
    else:
        model = course_resnet50()(input_shape=(64, 64, 3), classes=6)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="categorical_crossentropy", metrics=["accuracy"],
                  jit_compile=kind.endswith("xla"))
    create_training_variables(model, x, y)   # as notebook 04 does: the first epoch traces its step once
    keras.mixed_precision.set_global_policy("float32")
    return model


def uses_fused_batchnorm(kind: str) -> bool:
    """Every model but plain keras.applications trains with BatchNorm on TensorFlow's fused kernel."""
    return kind != "keras.applications"


def epoch_seconds(model, batches, fused: bool) -> float:
    from resnets_course.keras_internals import fused_batchnorm

    start = time.perf_counter()
    with fused_batchnorm(fused):   # the first epoch traces the training step with this setting
        model.fit(batches, epochs=1, shuffle=False, verbose=0)   # the batches are already in a fixed order
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--xla", action="store_true", help="also the course model with jit_compile=True")
    parser.add_argument("--bf16", action="store_true", help="also the course model in mixed_bfloat16")
    parser.add_argument("--fused-reference", action="store_true",
                        help="also keras.applications with the course's fused BatchNormalization")
    args = parser.parse_args(argv)

    from resnets_utils import multiply_adds

    check_environment()
    (x, y), *_ = signs_for_training()   # notebook 04's training images: its epoch is a student's epoch
    batches = test_batches(x, y, BATCH)   # in order, not augmented: this measures the model, not the pipeline
    kinds = (["course", "keras.applications"] + ["keras.applications+fused-bn"] * args.fused_reference
             + ["course-xla"] * args.xla + ["course-bf16"] * args.bf16)
    models = {k: build(k, x, y) for k in kinds}
    macs = {k: multiply_adds(m) for k, m in models.items()}
    first = {}
    for k, m in models.items():
        first[k] = epoch_seconds(m, batches, uses_fused_batchnorm(k))
        print(f"  {k}: first epoch {first[k]:.1f} s", flush=True)
    epochs = {k: [] for k in kinds}
    for r in range(args.rounds):
        for k, m in models.items():
            epochs[k].append(epoch_seconds(m, batches, uses_fused_batchnorm(k)))
        print(f"  round {r + 1}: " + ", ".join(f"{k} {epochs[k][-1]:.1f} s" for k in kinds), flush=True)

    machine = describe_machine()
    peak = matmul_gflops()
    print(f"  float32 matrix product (4096x4096): {peak:.0f} GFLOP/s", flush=True)
    rows = []
    for k in kinds:
        t = statistics.median(epochs[k])
        ips = len(x) / t
        gflops = ips * macs[k] * 2 * 3 / 1e9
        rows.append({"model": k, "images_per_second": round(ips, 1), "epoch_seconds": round(t, 1),
                     "first_epoch_seconds": round(first[k], 1), "tracing_overhead_seconds": round(first[k] - t, 1),
                     "forward_multiply_adds": macs[k], "gflops": round(gflops, 1),
                     "fraction_of_fp32_matmul": round(gflops / peak, 3),
                     "all_epoch_seconds": [round(e, 2) for e in epochs[k]]})
    base = rows[1]["images_per_second"]
    print(f"\nResNet-50 training at 64x64, batch {BATCH}, on {machine['cpu']} ({machine['threads']} threads), "
          f"TF {machine['tensorflow']}, Keras {machine['keras']}")
    print(f"{'model':<28} {'img/s':>6} {'vs keras':>8} {'epoch s':>7} {'1st epoch s':>11} {'tracing s':>9} "
          f"{'GFLOP/s':>7} {'of matmul':>9}")
    for r in rows:
        frac = f"{100 * r['fraction_of_fp32_matmul']:.0f}%"
        print(f"{r['model']:<28} {r['images_per_second']:>6.1f} {r['images_per_second'] / base:>7.2f}x "
              f"{r['epoch_seconds']:>7.1f} {r['first_epoch_seconds']:>11.1f} {r['tracing_overhead_seconds']:>9.1f} "
              f"{r['gflops']:>7.1f} {frac:>9}")
    print(f"of matmul: of the {peak:.0f} GFLOP/s of a 4096x4096 float32 matrix product, measured in this run")
    path = results_path("train_speed")
    path.write_text(json.dumps({"machine": machine, "batch": BATCH, "rounds": args.rounds,
                                "fp32_matmul_gflops": round(peak, 1), "rows": rows}, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
