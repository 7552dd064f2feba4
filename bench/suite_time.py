"""The test suite's time: what `.ci/run` took, read from its log, as a result the manual can quote.

    bash .ci/run 2>&1 | tee ci.log          # on a quiet machine: nothing else running
    python -m bench.suite_time ci.log        # -> bench/results/suite_time-<machine>.json

The suite's own clock is not a test (a loaded machine is slower, and that is not a bug); this records one
run's count of tests, its wall time and its slowest tests, with the machine, so that the time the manual
quotes comes from a run and a test can check the quote against it.
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from bench.machine import describe_machine, results_path

LIMIT_MINUTES = 30   # what CI keeps the suite under on 2 cores


def read_log(text: str) -> dict:
    """{passed, failed, skipped, seconds, slowest: [[seconds, phase, test], ...]} from a pytest log."""
    final = re.findall(r"^=+ (.*?) in ([\d.]+)s(?: \([\d:]+\))? =+$", text, re.M)
    if not final:
        raise ValueError("no pytest summary line ('=== N passed in S s ===') in the log")
    counts, seconds = final[-1]
    found = {kind: int(n) for n, kind in re.findall(r"(\d+) (passed|failed|skipped|errors?)", counts)}
    slowest = [[float(s), phase, test] for s, phase, test in
               re.findall(r"^([\d.]+)s (call|setup|teardown)\s+(.+?)\s*$", text, re.M)]
    return {"passed": found.get("passed", 0), "failed": found.get("failed", 0), "skipped": found.get("skipped", 0),
            "seconds": float(seconds), "slowest": slowest}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("log", type=Path, help="the output of `bash .ci/run`")
    args = parser.parse_args(argv)
    run = read_log(args.log.read_text(errors="replace"))
    if run["failed"]:
        raise SystemExit(f"the run has {run['failed']} failed tests: record a passing run")
    path = results_path("suite_time")
    path.write_text(json.dumps({"machine": describe_machine(), **run}, indent=1) + "\n")
    print(f"{run['passed']} passed in {run['seconds'] / 60:.1f} min (limit {LIMIT_MINUTES}); wrote {path}")


if __name__ == "__main__":
    main()
