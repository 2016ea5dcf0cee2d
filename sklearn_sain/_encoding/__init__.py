"""The encoding layer: from a ratings table to the integer ids the network embeds.

Pandas and numpy only, no torch.

- :mod:`.encoder`: :class:`~sklearn_sain.SAINEncoder`, which learns the
  vocabularies and writes the padded token ids, with :mod:`.tokenize`
  (cells to value codes) and :mod:`.drift` (type-drift warnings);
  :mod:`.encoder_persistence` saves and pickles it;
- :mod:`.ids`: the id convention every layer shares (0 padding, 1 unknown);
- :mod:`.layout`: the field structure read back from an encoded table;
- :mod:`.catalog`: the users and items of the training data, their tokens
  and who rated what;
- :mod:`.vocabulary_json`: vocabularies as exact JSON for the safe format.
"""
