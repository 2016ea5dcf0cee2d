"""Where a benchmark ran: CPU, cores, memory, accelerator, library versions, load."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

_PACKAGES = ("torch", "scikit-learn", "numpy", "pandas", "scipy", "scikit-surprise", "myfm",
             "deepctr-torch", "matplotlib")  # fmt: skip


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def _git_commit() -> str | None:
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}{' (uncommitted changes)' if dirty else ''}" if commit else None


def source_digest() -> str:
    """SHA-256 (first 12 hex digits) of the source of the sklearn_sain package in use.

    Runs whose digests differ used different model code, even at the same commit.
    """
    import sklearn_sain

    package = Path(sklearn_sain.__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(package.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def machine_info() -> dict:
    import torch

    from sklearn_sain import __version__

    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    info = {
        "cpu": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": usable,
        "memory_gib": _memory_gib(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "torch_threads": torch.get_num_threads(),
        "cuda": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        if torch.cuda.is_available() else [],
        "sklearn_sain": __version__,
        "git_commit": _git_commit(),
        "source_digest": source_digest(),
        "versions": versions,
    }
    if hasattr(os, "getloadavg"):
        info["load_average_at_start"] = [round(v, 2) for v in os.getloadavg()]
    return info


def describe_machine(info: dict) -> str:
    cuda = ", ".join(info["cuda"]) if info["cuda"] else "no GPU"
    memory = f", {info['memory_gib']} GiB RAM" if info.get("memory_gib") else ""
    line = (f"{info['cpu']}, {info['usable_cores']} usable cores (of {info['logical_cores']})"
            f"{memory}, {cuda}; Python {info['python']}, torch {info['versions'].get('torch')} "
            f"with {info['torch_threads']} thread(s); {info['platform']}")  # fmt: skip
    if info.get("load_average_at_start"):
        line += f"; load average at start {info['load_average_at_start'][0]}"
    return line
