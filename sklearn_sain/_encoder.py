"""Where ``SAINEncoder`` lived before the encoding layer had its own folder.

Pickles, joblib and skops files written then (a bare encoder, or a Pipeline with one) name
``sklearn_sain._encoder.SAINEncoder``; this alias lets them load. Files written since name
``sklearn_sain._encoding.encoder.SAINEncoder``.
"""

from ._encoding.encoder import SAINEncoder

__all__ = ["SAINEncoder"]
