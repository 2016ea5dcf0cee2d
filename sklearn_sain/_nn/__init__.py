"""The torch layer: the SAIN network and how it is trained and queried.

Nothing here knows about scikit-learn or pandas: the modules take integer
tensors (and numpy arrays of encoded ids) and return tensors.

- :mod:`.model`: :class:`~sklearn_sain._nn.model.SAINModule`, the network of
  the paper (Eq. 1-9), built from :mod:`.layers` (field embedding, feature
  interaction, pooling), :mod:`.attention` (top-K self-attention, Eq. 1-2)
  with :mod:`.selection` (the k-th largest score), :mod:`.feedback`
  (implicit feedback, SVD++) and :mod:`.choice` (the choice head);
- :mod:`.training`: mini-batch training with early stopping, and batched
  prediction; :mod:`.choice_training` the choice head's;
- :mod:`.choice_ranking` and :mod:`.rating_top_n`: top-N scoring by choice
  and by predicted rating;
- :mod:`.randomness` (the fit's own generators, dropout) and
  :mod:`.torch_utils` (devices, state dicts).
"""
