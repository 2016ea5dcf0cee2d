"""Speed and scale of SAIN: the same as ``python benchmarks/run.py --speed``.

    pip install -e ".[bench]"          # DeepCTR-Torch for the AutoInt ratio
    python benchmarks/speed.py --data-dir ../shared/data --out benchmark_results/speed

Opens with time to accuracy (the whole default fit beside myFM's and AutoInt's), then
SAIN's training epoch (batch 128) beside AutoInt's, prediction and encoding throughput,
GPU figures when CUDA is present and the 1M/3M/10M scale curve; see docs/speed.rst.
``--scale-sizes 0`` skips the curve.
"""

import runpy
import sys
from pathlib import Path

if __name__ == "__main__":
    sys.argv[1:1] = ["--speed"]
    runpy.run_path(str(Path(__file__).resolve().with_name("run.py")), run_name="__main__")
