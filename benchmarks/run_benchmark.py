"""SAIN against its peers: the same as ``python -m sklearn_sain benchmark``.

    pip install -e ".[bench]"
    python benchmarks/run_benchmark.py --data-dir ../shared/data --out benchmark_results --seeds 0 1 2

See docs/benchmarks.rst for the rows, the protocol and the latest table; ``--list`` shows
the rows, ``--quick`` makes a smoke run on subsampled data.
"""

import sys
from pathlib import Path

try:
    from sklearn_sain._benchmark import main
except ImportError:  # run from a source checkout without installing
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from sklearn_sain._benchmark import main

if __name__ == "__main__":
    raise SystemExit(main())
