"""Speed and scale of SAIN: the same as ``python -m sklearn_sain benchmark --speed``.

    pip install -e ".[bench]"          # DeepCTR-Torch for the AutoInt ratio
    python benchmarks/speed.py --data-dir ../shared/data --out benchmark_results/speed

Prints SAIN's training epoch (batch 128) beside DeepCTR-Torch AutoInt's, measured in
the same run, prediction and encoding throughput, GPU figures when CUDA is present and
the 1M/3M/10M scale curve; see docs/speed.rst. ``--scale-sizes 0`` skips the curve.
"""

import sys
from pathlib import Path

try:
    from sklearn_sain._benchmark import main
except ImportError:  # run from a source checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from sklearn_sain._benchmark import main

if __name__ == "__main__":
    raise SystemExit(main(["--speed", *sys.argv[1:]]))
