"""What the benchmark ran on: CPU model, threads, instruction sets that matter, versions."""
from __future__ import annotations

import os
import platform
import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def cpu_model() -> str:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or platform.machine()
    match = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
    return match.group(1).strip() if match else platform.machine()


def cpu_flags() -> list[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    match = re.search(r"^flags\s*:\s*(.+)$", text, re.M)
    flags = set(match.group(1).split()) if match else set()
    return [f for f in ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile") if f in flags]


def describe_machine() -> dict:
    from resnets_utils import installed_version

    return {"cpu": cpu_model(), "threads": len(os.sched_getaffinity(0)), "flags": cpu_flags(),
            "python": platform.python_version(), "tensorflow": installed_version("tensorflow"),
            "keras": installed_version("keras")}


def machine_tag() -> str:
    """A short file-name-safe label for the CPU, e.g. 'intel-xeon-2t'."""
    words = re.sub(r"\(.*?\)|processor|cpu|\d+-core", " ", cpu_model().lower()).split()
    return "-".join(re.sub(r"[^a-z0-9]", "", w) for w in words[:3] if w) + f"-{len(os.sched_getaffinity(0))}t"


def results_path(name: str) -> Path:
    RESULTS.mkdir(exist_ok=True)
    return RESULTS / f"{name}-{machine_tag()}.json"
