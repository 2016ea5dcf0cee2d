"""Benchmark of SAIN against its peers: ``python benchmarks/run.py`` (not installed).

Peers (Surprise, myFM, DeepCTR-Torch) and matplotlib are optional: rows whose
package is missing are listed as skipped. Importing this package is cheap; the
models load when a run starts.
"""


def main(argv=None) -> int:
    from ._runner import main as _main

    return _main(argv)


def run_benchmark(*args, **kwargs) -> dict:
    from ._runner import run_benchmark as _run

    return _run(*args, **kwargs)


__all__ = ["main", "run_benchmark"]
