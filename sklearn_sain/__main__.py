"""``python -m sklearn_sain``: see :mod:`sklearn_sain._cli`."""

from ._cli import main

raise SystemExit(main())
