"""SAIN against its peers: accuracy (Table 2, Figure 4, cold start), top-N and speed.

    pip install -e ".[bench]"
    python benchmarks/run.py --data-dir ../shared/data --out benchmark_results --seeds 0 1 2
    python benchmarks/run.py --task ranking --data-dir ../shared/data
    python benchmarks/run.py --speed --data-dir ../shared/data --scale-sizes 0

The benchmark lives beside the package, not in it (``sain_bench`` in this folder): it is not
installed. See docs/benchmarks.rst, docs/cold_start.rst, docs/ranking.rst and docs/speed.rst;
``--list`` shows the rows, ``--quick`` makes a smoke run on subsampled data.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # sain_bench
try:
    import sklearn_sain  # noqa: F401
except ImportError:  # a source checkout without installing
    sys.path.insert(1, str(HERE.parent))

from sain_bench import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
