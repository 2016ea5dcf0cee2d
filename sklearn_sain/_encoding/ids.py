"""The id convention every layer shares: 0 is padding, 1 the unknown value, 2.. known values.

It holds for user and item ids and for the local ids of every feature field:
:class:`~sklearn_sain.SAINEncoder` writes it, the layout, the catalog and the
torch modules read it. Padding fills the unused slots of a multi-valued field
(and is never trained); the unknown value stands for anything unseen in fit.
"""

PAD_ID = 0
UNKNOWN_ID = 1
