"""SAINRegressor: the scikit-learn estimator around :class:`SAINModule`."""

from __future__ import annotations

import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._baselines import ridge_biases
from ._nn.choice_training import fit_choice_head
from ._encoding.encoder import SAINEncoder
from ._nn.feedback import training_links
from ._fitted import FittedSAIN
from ._encoding.layout import is_encoded, layout_of
from ._nn.layers import NORMS
from . import _explain
from . import _recommend
from ._params import count, invalid, non_negative, positive, share
from ._persistence.persistable import persistable
from ._nn.randomness import seeded_generator
from ._regressor_persistence import RegressorPersistence
from ._encoding.catalog import build_catalog
from ._nn.torch_utils import is_allocation_error, is_finite_module, resolve_device
from ._threads import torch_threads
from ._nn.training import LOSSES, Rows, train_module
from ._validation import (
    TrainingDivergedError,
    check_target,
    check_weights,
    target_stats,
)


# a kept model whose validation RMSE exceeds this many times the training
# mean's is reported as diverged (R² below -1.25); no fit that learned
# anything comes near it, and the mean is what every fit starts from
_DIVERGED_FACTOR = 1.5
# how the biases start: a ridge fit of user + item biases, or zeros as in the paper
BIAS_INITS = ("ridge", "zeros")
# validation rows below which RMSE ratios are noise (a 5-row table's one held-out row)
_MIN_JUDGED = 30

# ridge strength of bias_init="ridge": each bias is shrunk as if this many extra
# ratings at the mean were observed; the bias-only baseline of the benchmark
# selects 5 on validation (of 1, 5, 10, 25) on both MovieLens and Yelp
_BIAS_RIDGE = 5.0


def default_encoder() -> SAINEncoder:
    """The encoder :class:`SAINRegressor` clones when its ``encoder`` is None.

    ``min_ids=2``: a feature value held by one user or item only maps to the
    unknown value, whose embedding is then trained as users and items that
    arrive after ``fit`` (with values never seen) will use it; without it the
    content path of new items learned the one-item values and overfit.
    """
    return SAINEncoder(min_ids=2)


@persistable
class SAINRegressor(RegressorPersistence, RegressorMixin, BaseEstimator):
    """Self-Attentive Integration Network for rating prediction (Yun et al., SIGIR 2019).

    SAIN combines a feedback path (user and item id embeddings, as in matrix
    factorisation) with a content path (multi-head self-attention over the
    feature tokens of a user and an item), mixing the two per user and per item
    with a learned weight ``alpha_CF``. Unseen users and items are answered from
    their features alone.

    ``X`` is either a raw ratings table, encoded by a clone of ``encoder``
    inside :meth:`fit`, or the output of a fitted :class:`SAINEncoder` (as in
    ``make_pipeline(SAINEncoder(), SAINRegressor())``).

    Parameters
    ----------
    top_k : int or None, default=8
        Number of keys each attention query keeps (Eq. 2); ``None`` keeps all.
    n_heads : int, default=2
        Attention heads; must divide ``feature_dim``.
    embed_dim : int, default=64
        Width of the user and item vectors (feedback and content).
    feature_dim : int, default=16
        Width of each feature token embedding.
    dropout : float, default=0.1
        Dropout on attention weights and on the f_user / f_item projections.
    norm : {"batch", "layer", "none"}, default="batch"
        Normalisation after the attention residual. The paper names batch
        normalisation (computed here over valid tokens only); the authors'
        code uses a layer norm. Batch validated better on the paper's
        MovieLens split (see :doc:`/paper_fidelity`).
    top_k_at_predict : bool, default=True
        Whether top-K selection also applies at prediction. The authors' code
        uses the full softmax at evaluation; the paper does not say. Both
        validated alike on MovieLens (see :doc:`/paper_fidelity`), so the
        default keeps prediction consistent with training.
    loss : {"rmse", "mse"}, default="rmse"
        Per-score error summed over the combined, content and preference
        scores (Eq. 9): ``"rmse"`` as in the paper, or the squared error.
    implicit_feedback : bool, default=True
        Add implicit feedback to the feedback vectors, as SVD++ does (Koren,
        KDD 2008): a user's vector gains the normalised sum of learned
        vectors of the items the user rated in the training data, and an
        item's the sum over the users who rated it. What was rated, not only
        how, then informs the vectors, which validated clearly better on the
        paper's MovieLens split (see :doc:`/benchmarks`). The links are
        those of ``fit``'s training rows (not of ``eval_set``), stored with
        the model; ratings that arrive later count after a refit. Unseen ids
        have no links and, as before, are answered from their features.
    implicit_max_links : int or None, default=256
        Most links kept per user and per item for the implicit feedback (a
        random subset, drawn once per fit from ``random_state``), so that the
        cost of a row stays bounded however popular its item; None keeps
        all. On the paper's MovieLens split 256 leaves most ids whole.
    bias_init : {"ridge", "zeros"}, default="ridge"
        Starting values of the global, user and item biases. ``"ridge"``
        starts them at the ridge-regularised bias-only fit of the training
        rows (Koren's baseline predictors, each bias shrunk as if 5 extra
        ratings at the mean were observed), so that training begins from
        the bias-only model and the interaction terms learn what it misses;
        ``"zeros"`` starts from zero, as the paper does. Ridge validated
        better on MovieLens and on Yelp, where zero biases lose to the
        bias-only model (see :doc:`/benchmarks`).
    content_bias : bool, default=True
        Give each side with features a bias read from its content vector
        (one linear map of X̄ to two numbers): for a known id, a complement
        to the id's own bias, learned from every rating; for an unseen id,
        an estimate of its whole bias. Without it an unseen item gets the
        unknown id's single bias, whatever its features say about its
        quality. See the cold-start page of the documentation.
    cold_start_weight : float, default=1.0
        Weight in the training loss of two more scores per rating: the
        combined score (Eq. 9) as it would be were the item unseen (its
        content vector alone, alpha_CF = 0, the unknown id's bias plus its
        content bias) and were the user unseen. The known side enters these
        scores as a constant, so they train the content path that
        cold-start predictions take, and nothing else; without them that
        path is never trained, and predictions for new items were worse
        than each user's mean rating. 0 trains known ids only, as the paper.
    id_dropout : float, default=0.0
        Share of the user ids and, independently, of the item ids that each
        training batch replaces by the unknown id (DropoutNet, Volkovs et
        al., NeurIPS 2017): another way to train the cold path, which also
        hides ids from the warm scores. ``cold_start_weight`` does the same
        job without that cost; the cold-start page compares them.
    token_dropout : float, default=0.0
        Share of the feature tokens that each training batch replaces by
        their field's unknown value. A value unseen in ``fit`` (the actor of
        a new film) maps to that unknown value, whose embedding is otherwise
        never trained. It measured within noise of 0 on the paper's
        MovieLens data (see :doc:`/cold_start`), so it is off by default.
    choice_head : bool, default=True
        Also fit a choice head, which :meth:`recommend` ranks by: a model of
        which items each user rates (their history of rated items, their
        features and the items' features, under a softmax over the
        catalogue), trained after the rating path on its own parameters, so
        that :meth:`predict` is unchanged. Ranking by predicted rating
        recommends items a user would like *if* they watched them, which
        measured worse at top-N than recommending the most popular items;
        see the top-N page. Its epochs are chosen on the validation data
        (``eval_set``, or the ``validation_fraction`` held out).
    l2_reg : float, default=1e-4
        L2 penalty on the embedding rows used by each batch (for the
        feedback vectors, on the vectors with their implicit sums).
    learning_rate : float, default=3e-4
        Adam step size. The paper uses 1e-3; with implicit feedback the
        model overfits within two or three epochs at that rate. With the
        biases started from the ridge fit, 3e-4 validated best on the
        paper's MovieLens split and on Yelp, and larger batches at larger
        rates validated worse on MovieLens (see :doc:`/benchmarks` and
        :doc:`/speed`).
    batch_size : int, default=128
        Training mini-batch size.
    max_epochs : int, default=50
        Upper bound on training epochs.
    early_stopping : bool, default=True
        Stop when the validation RMSE has not improved by ``tol`` for
        ``n_iter_no_change`` epochs, and restore the best epoch. Validation
        rows come from ``eval_set`` in :meth:`fit`, else a random
        ``validation_fraction`` of the training rows is held out.
    validation_fraction : float, default=0.1
        Share of training rows held out when early stopping without ``eval_set``.
    n_iter_no_change : int, default=3
        Patience of early stopping, in epochs. The validation curves of the
        default fits on MovieLens and Yelp fall smoothly to their minimum and
        rise after it: 3 kept the epoch 5 keeps in every fit measured, with a
        fifth fewer epochs (see :doc:`/speed`).
    tol : float, default=1e-4
        Minimum improvement of the validation RMSE that counts, in units of
        the training targets' standard deviation (so rescaling the targets
        changes nothing).
    weight_averaging : float or None, default=None
        Decay of an exponential moving average of the weights over training
        steps (e.g. 0.999); the average is what gets validated and kept.
        None trains and keeps the plain weights.
    clip_predictions : bool, default=True
        Clip predictions to the range of the training targets.
    encoder : SAINEncoder or None, default=None
        Encoder to clone for raw input; ``SAINEncoder(min_ids=2)`` when None
        (a feature value of a single user or item maps to the unknown value,
        see :doc:`/cold_start`). Give your own to name the columns and roles;
        keep ``min_ids=2`` in it for cold start.
    device : str or torch.device, default="auto"
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"`` (CUDA when available).
    n_threads : int, "auto" or None, default="auto"
        Torch intra-op threads during ``fit`` and ``predict``, the previous
        setting restored afterwards. ``"auto"`` takes the cores that are free
        when the work starts and looks again every two seconds while it
        trains: never more than torch's current setting (which reflects
        ``OMP_NUM_THREADS`` and the limits Dask and joblib give their
        workers), the CPUs of the process's affinity mask and cgroup quota,
        or the cores other processes leave idle; one thread for a prediction
        of at most 8,192 rows, and in a thread other than the main one
        (threaded workers). An int fixes the count; None leaves torch's
        setting alone. See :doc:`/speed`.
    random_state : int, RandomState instance or None, default=None
        Seeds parameter initialisation, shuffling, dropout and the validation
        split. A fit draws from torch generators of its own, never from
        torch's global one: fits in parallel threads (threaded Dask or joblib
        workers) give the same model as one after the other, and leave the
        random streams of the rest of the program alone.
    verbose : int, default=0
        1 prints one line per epoch and a summary of the choice head; 2
        also prints a progress line within each epoch (share done, rows per
        second, time left) every five seconds and a line per epoch of the
        choice head.

    Attributes
    ----------
    encoder_ : SAINEncoder or None
        The fitted encoder; None when ``fit`` received encoded input.
    module_ : SAINModule
        The trained network, in evaluation mode, on ``device_``.
    device_ : torch.device
        Device the network lives on.
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names seen in ``fit`` (DataFrame input with string names only).
    loss_curve_ : list of float
        Mean training loss per epoch.
    validation_scores_ : list of float
        Validation RMSE per epoch, in target units (empty without validation).
    best_epoch_ : int
        Epoch whose weights were kept.
    n_iter_ : int
        Number of epochs run.
    catalog_ : object
        The users and items of ``X`` with their feature tokens (from their
        last row) and the rated pairs, for :meth:`recommend`.

    See Also
    --------
    SAINEncoder : The transformer that builds the token vocabularies.

    Notes
    -----
    Persistence comes in two formats. :meth:`save` / :meth:`load` write the
    weights as tensors and everything else as JSON, and read them back with
    ``torch.load(weights_only=True)``: loading cannot run code, refuses files
    it did not write and puts a GPU-trained model on the CPU when no GPU is
    present. Use it for any file that comes from somewhere you do not
    control. ``joblib.dump`` / ``pickle`` also work (the weights are stored
    as CPU tensors) but loading such a file runs whatever code it names: load
    joblib or pickle files only from sources you trust.

    References
    ----------
    S. Yun, R. Kim, M. Ko, J. Kang. SAIN: Self-Attentive Integration Network
    for Recommendation. SIGIR 2019.

    Examples
    --------
    >>> from sklearn_sain import SAINRegressor
    >>> from sklearn_sain.datasets import make_ratings
    >>> X, y = make_ratings(n_users=50, n_items=40, n_ratings=800, random_state=0)
    >>> model = SAINRegressor(max_epochs=2, device="cpu", random_state=0).fit(X, y)
    >>> model.predict(X.head(3)).shape
    (3,)
    """

    _parameter_constraints: dict = {
        "top_k": [count(), None],
        "n_heads": [count()],
        "embed_dim": [count()],
        "feature_dim": [count()],
        "dropout": [share()],
        "norm": [StrOptions(set(NORMS))],
        "top_k_at_predict": ["boolean"],
        "loss": [StrOptions(set(LOSSES))],
        "implicit_feedback": ["boolean"],
        "implicit_max_links": [count(), None],
        "bias_init": [StrOptions(set(BIAS_INITS))],
        "content_bias": ["boolean"],
        "cold_start_weight": [non_negative()],
        "id_dropout": [share()],
        "token_dropout": [share()],
        "choice_head": ["boolean"],
        "l2_reg": [non_negative()],
        "learning_rate": [positive()],
        "batch_size": [count()],
        "max_epochs": [count()],
        "early_stopping": ["boolean"],
        "validation_fraction": [share()],
        "n_iter_no_change": [count()],
        "tol": [non_negative()],
        "weight_averaging": [share(closed="neither"), None],
        "clip_predictions": ["boolean"],
        "encoder": [SAINEncoder, None],
        "device": [str, torch.device],
        "n_threads": [count(), StrOptions({"auto"}), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        top_k=8,
        n_heads=2,
        embed_dim=64,
        feature_dim=16,
        dropout=0.1,
        norm="batch",
        top_k_at_predict=True,
        loss="rmse",
        implicit_feedback=True,
        implicit_max_links=256,
        bias_init="ridge",
        content_bias=True,
        cold_start_weight=1.0,
        id_dropout=0.0,
        token_dropout=0.0,
        choice_head=True,
        l2_reg=1e-4,
        learning_rate=3e-4,
        batch_size=128,
        max_epochs=50,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=3,
        tol=1e-4,
        weight_averaging=None,
        clip_predictions=True,
        encoder=None,
        device="auto",
        n_threads="auto",
        random_state=None,
        verbose=0,
    ):
        self.top_k = top_k
        self.n_heads = n_heads
        self.embed_dim = embed_dim
        self.feature_dim = feature_dim
        self.dropout = dropout
        self.norm = norm
        self.top_k_at_predict = top_k_at_predict
        self.loss = loss
        self.implicit_feedback = implicit_feedback
        self.implicit_max_links = implicit_max_links
        self.bias_init = bias_init
        self.content_bias = content_bias
        self.cold_start_weight = cold_start_weight
        self.id_dropout = id_dropout
        self.token_dropout = token_dropout
        self.choice_head = choice_head
        self.l2_reg = l2_reg
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.weight_averaging = weight_averaging
        self.clip_predictions = clip_predictions
        self.encoder = encoder
        self.device = device
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fit
    def _check_params(self) -> None:
        """What ``_parameter_constraints`` cannot say: one parameter against another."""
        if self.feature_dim % self.n_heads:
            raise invalid(self, "n_heads", f"a divisor of feature_dim={self.feature_dim} (each "
                                           "head gets feature_dim // n_heads dimensions)",
                          self.n_heads)  # fmt: skip

    _check_target = staticmethod(check_target)

    def _encode(self, X, *, fit: bool):
        """Encoded table for ``X`` (raw or already encoded)."""
        if fit:
            if is_encoded(X):
                self.encoder_ = None
                encoded = X
                if not len(encoded):
                    raise ValueError("X has 0 rows; at least one rating is required to fit")
            else:
                self.encoder_ = clone(self.encoder if self.encoder is not None else
                                      default_encoder())
                encoded = self.encoder_.fit_transform(X)
            validate_data(self, X, skip_check_array=True, reset=True)
            return encoded
        check_is_fitted(self, "module_")
        if self.encoder_ is not None:
            encoded = self.encoder_.transform(X)
        elif is_encoded(X):
            encoded = X
        else:
            raise ValueError(
                "This SAINRegressor was fitted on SAINEncoder output; pass the output of the "
                "same encoder (or use a Pipeline) instead of a raw table"
            )
        validate_data(self, X, skip_check_array=True, reset=False)
        columns = self._fitted.layout.columns
        if tuple(str(c) for c in encoded.columns) != columns:
            raise ValueError(
                "The encoded columns differ from those seen in fit: "
                f"expected {list(columns)}, got {list(encoded.columns)}"
            )
        return encoded

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, eval_set=None, sample_weight=None):
        """Fit the model on ratings.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_columns)
            Raw ratings table (user id, item id, feature columns) or the
            output of a fitted :class:`SAINEncoder`.
        y : array-like of shape (n_samples,)
            Ratings.
        eval_set : tuple (X_val, y_val), default=None
            Validation data for early stopping and best-epoch selection.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each rating in the training loss (the
            squared errors of a batch are weighted; a weight of 2 counts a
            rating about as twice, not exactly, since training samples
            mini-batches). None weighs every rating 1. Validation RMSE, the
            starting biases (``bias_init``) and the choice head do not use
            the weights, but a rating of weight 0 counts nowhere (not in
            the target statistics or the starting biases either).

        Returns
        -------
        self : SAINRegressor
            The fitted estimator.

        Raises
        ------
        sklearn.utils._param_validation.InvalidParameterError
            For an invalid parameter (checked against ``_parameter_constraints``,
            as scikit-learn's estimators check theirs); it is both a
            ``ValueError`` and a ``TypeError``.
        ValueError
            For invalid data, and when training diverges (a non-finite loss or
            non-finite weights, typically a too large ``learning_rate``); the
            latter is also a ``FloatingPointError``.
        TypeError
            For cells of the wrong type.
        """
        try:
            with torch_threads(self.n_threads) as threads:
                return self._fit(X, y, eval_set, sample_weight, threads.step)
        except BaseException:
            # a failed refit must not leave the previous model next to the new
            # layout: predict would then index embeddings with the wrong ids
            self._forget_fit()
            raise

    def _forget_fit(self) -> None:
        for name in [n for n in vars(self) if n.endswith("_") and not n.startswith("__")]:
            delattr(self, name)
        vars(self).pop("_fitted", None)

    def _fit(self, X, y, eval_set, sample_weight, on_batch):
        self._check_params()
        encoded = self._encode(X, fit=True)
        y = self._check_target(y, n_rows=len(encoded))
        if sample_weight is not None:
            sample_weight = check_weights(sample_weight, len(y))
        vocabulary_sizes = None if self.encoder_ is None else self.encoder_.vocabulary_sizes_
        layout = layout_of(encoded, vocabulary_sizes)
        catalog = build_catalog(encoded, layout)
        device = resolve_device(self.device)
        rng = check_random_state(self.random_state)

        # rows of weight 0 must not shape anything: not even the target statistics
        counted = y if sample_weight is None else y[sample_weight > 0]
        target_mean, target_scale = target_stats(counted)
        self._fitted = fitted = FittedSAIN(
            layout, target_mean=target_mean, target_scale=target_scale,
            target_range=(float(np.min(counted)), float(np.max(counted))), catalog=catalog,
            device=device,
        )

        train_index = np.arange(len(y))
        valid_rows = None
        if eval_set is not None:
            if not (isinstance(eval_set, (tuple, list)) and len(eval_set) == 2):
                raise TypeError("eval_set must be a pair (X_val, y_val)")
            X_val, y_val = eval_set
            encoded_val = self._encode_validation(X_val)
            if not len(encoded_val):
                raise ValueError("eval_set X has 0 rows; pass eval_set=None to skip validation")
            y_val = self._check_target(y_val, n_rows=len(encoded_val), name="eval_set y")
            valid_rows = fitted.rows(encoded_val, y_val)
        elif self.early_stopping and self.validation_fraction > 0 and len(y) >= 2:
            shuffled = rng.permutation(len(y))
            n_valid = min(max(1, int(round(self.validation_fraction * len(y)))), len(y) - 1)
            valid_index, train_index = np.sort(shuffled[:n_valid]), np.sort(shuffled[n_valid:])
            valid_rows = fitted.rows(encoded.iloc[valid_index], y[valid_index])
        weight = None
        if sample_weight is not None:
            # scaled to a mean of 1, so that the learning rate means what it does unweighted
            weight = sample_weight[train_index]
            weight = weight / weight.mean() if weight.sum() > 0 else weight
            if not weight.any():
                raise ValueError("sample_weight is 0 for every training row; at least one "
                                 "rating must have a positive weight")
        train_rows = fitted.rows(encoded.iloc[train_index], y[train_index], weight)

        module_kwargs = dict(
            layout.module_kwargs(),
            feature_dim=self.feature_dim,
            embed_dim=self.embed_dim,
            n_heads=self.n_heads,
            top_k=self.top_k,
            dropout=self.dropout,
            norm=self.norm,
            top_k_at_predict=self.top_k_at_predict,
            implicit_feedback=bool(self.implicit_feedback),
            id_dropout=float(self.id_dropout),
            content_bias=bool(self.content_bias),
            token_dropout=float(self.token_dropout),
            choice_head=bool(self.choice_head),
        )
        seed = int(rng.randint(np.iinfo(np.int32).max))
        links = self._feedback_links(train_rows, seed)
        module_kwargs.update(n_user_links=len(links[0][0]), n_item_links=len(links[1][0]))
        # generators of the fit's own, never torch's global one: fits in
        # parallel threads must neither depend on nor disturb each other
        module = fitted.build_module(module_kwargs, seeded_generator(seed))
        module.set_feedback_links(*links)
        if self.bias_init == "ridge":
            module.set_biases(*self._ridge_biases(train_rows))
        noise = seeded_generator(rng.randint(np.iinfo(np.int32).max), device)
        module.use_generator(noise)
        try:
            history = self._train(train_rows, valid_rows, rng, on_batch)
            self.choice_history_ = self._train_choice(encoded, train_index, train_rows,
                                                      valid_rows, rng, on_batch)  # fmt: skip
        except FloatingPointError as exc:
            raise TrainingDivergedError(
                f"Training diverged (learning_rate={self.learning_rate}, "
                f"l2_reg={self.l2_reg}): {exc}"
            ) from exc
        except (RuntimeError, MemoryError) as exc:
            if not is_allocation_error(exc):
                raise
            # attention memory grows with batch_size * n_slots ** 2
            raise ValueError(
                f"Not enough memory on {device} to train with batch_size="
                f"{self.batch_size} on rows of {layout.n_slots} feature tokens; "
                "lower batch_size, or cap long multi-valued cells with the encoder's "
                "max_values"
            ) from exc
        finally:
            module.use_generator(None)  # a fitted module holds no generator
        # the last steps can break the weights after the last loss was measured,
        # or leave them finite but so large that scores overflow: check both
        if not (is_finite_module(module)
                and torch.isfinite(fitted.scores(train_rows.take(slice(0, 1024)))).all()):
            raise TrainingDivergedError(
                "Training diverged: the weights or the scores became NaN or infinite; "
                f"lower learning_rate (now {self.learning_rate})"
            )
        self.loss_curve_ = history.loss_curve
        self.validation_scores_ = history.validation_scores
        self.best_epoch_ = history.best_epoch
        self.n_iter_ = history.n_iter
        self._warn_if_worse_than_the_mean(valid_rows)
        return self

    def _warn_if_worse_than_the_mean(self, valid_rows) -> None:
        """Warn when the kept model predicts the validation data far worse than the mean.

        A learning rate too large for the data drives the weights far off
        without making them infinite; the best epoch is then still kept, and
        would predict worse than the training mean for every row.
        """
        if valid_rows is None or not self.validation_scores_ or len(valid_rows) < _MIN_JUDGED:
            return
        # the standardised targets are 0 at the training mean
        mean_rmse = float(torch.sqrt(torch.mean(valid_rows.target**2))) * self._fitted.target_scale
        best = min(self.validation_scores_)
        if mean_rmse > 0 and best > _DIVERGED_FACTOR * mean_rmse:
            warnings.warn(
                f"The best validation RMSE ({best:.4g}) is {best / mean_rmse:.1f} times that of "
                f"predicting the training mean ({mean_rmse:.4g}): training probably diverged. "
                f"Lower learning_rate (now {self.learning_rate}).",
                ConvergenceWarning,
                stacklevel=3,
            )

    def _feedback_links(self, rows: Rows, seed: int):
        """The implicit-feedback links of the training ``rows`` (see :func:`training_links`)."""
        if not self.implicit_feedback:
            empty = np.zeros(0, dtype=np.int64)
            return (empty, empty), (empty, empty)
        layout = self._fitted.layout
        return training_links(rows.users.cpu().numpy(), rows.items.cpu().numpy(),
                              layout.n_users, layout.n_items,
                              self.implicit_max_links, seed)  # fmt: skip

    def _ridge_biases(self, rows: Rows):
        """Global mean, user and item biases of the bias-only fit of ``rows`` (``bias_init``).

        Rows of weight 0 are left out; the other weights are not used.
        """
        counted = slice(None) if rows.weight is None else (rows.weight > 0).cpu().numpy()
        return ridge_biases(rows.users.cpu().numpy()[counted], rows.items.cpu().numpy()[counted],
                            rows.target.cpu().numpy()[counted], self._fitted.layout.n_users,
                            self._fitted.layout.n_items, reg=_BIAS_RIDGE)  # fmt: skip

    def _train(self, train_rows, valid_rows, rng, on_batch):
        fitted = self._fitted
        return train_module(
            fitted.module,
            train_rows,
            valid_rows,
            loss=self.loss,
            l2_reg=self.l2_reg,
            learning_rate=self.learning_rate,
            batch_size=self.batch_size,
            max_epochs=self.max_epochs,
            early_stopping=self.early_stopping,
            n_iter_no_change=self.n_iter_no_change,
            tol=self.tol,
            target_scale=fitted.target_scale,
            rng=rng,
            weight_averaging=self.weight_averaging,
            verbose=self.verbose,
            predict_batch_size=fitted.rows_per_batch(),
            cold_start_weight=self.cold_start_weight,
            on_batch=on_batch,
        )

    def _train_choice(self, encoded, train_index, train_rows, valid_rows, rng, on_batch):
        """Fit the choice head (if any) on who rated what; its history, or None."""
        fitted = self._fitted
        if not fitted.has_choice:
            return None
        # the catalog of the training rows: held-out rows must not count as the
        # history the choice head is validated on
        train_catalog = (fitted.catalog if len(train_index) == len(encoded)
                         else build_catalog(encoded.iloc[train_index], fitted.layout))
        pairs = lambda rows: (rows.users.cpu().numpy(), rows.items.cpu().numpy())  # noqa: E731
        valid_pairs = valid_target = None
        if valid_rows is not None:
            valid_pairs, valid_target = pairs(valid_rows), valid_rows.target.cpu().numpy()
        return fit_choice_head(fitted.module, train_catalog, pairs(train_rows), valid_pairs,
                               valid_target, fitted.device, rng, self.verbose,
                               on_batch)  # fmt: skip

    def _encode_validation(self, X_val):
        if self.encoder_ is not None:
            return self.encoder_.transform(X_val)
        if not is_encoded(X_val) or tuple(map(str, X_val.columns)) != self._fitted.layout.columns:
            raise ValueError("eval_set X must be encoded by the same SAINEncoder as X")
        return X_val

    # -------------------------------------------------------------- predict
    def predict(self, X):
        """Predict ratings.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_columns)
            Rows in the format seen in :meth:`fit`. Unknown users, items and
            feature values are allowed.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted ratings, clipped to the training range when
            ``clip_predictions`` is True.
        """
        encoded = self._encode(X, fit=False)
        with torch_threads(self.n_threads, n_rows=len(encoded)):
            return self._fitted.predict(encoded, self.clip_predictions)

    def explain(self, X, *, encoder=None):
        """Attention between named feature tokens, and alpha_CF, for each row of `X`.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_columns)
            Rows in the format seen in :meth:`fit`; a few rows, as the
            attention table grows with n_samples * n_heads * n_tokens ** 2.
        encoder : SAINEncoder or None, default=None
            For a model fitted on encoded input (a pipeline step), the fitted
            encoder that produced `X`, to name tokens and ids; without it they
            read as encoded ids (``"genres=#5"``).

        Returns
        -------
        explanation : Explanation
            ``attention``: a tidy DataFrame of per-head weights between the
            row's tokens (``"occupation=writer"``), padding excluded, with the
            keys kept by top-K; ``integration``: the prediction and alpha_CF
            of the user and the item per row (0 for ids unseen in fit).

        Examples
        --------
        >>> from sklearn_sain import SAINRegressor
        >>> from sklearn_sain.datasets import make_ratings
        >>> X, y = make_ratings(n_users=30, n_items=20, n_ratings=300, random_state=0)
        >>> model = SAINRegressor(max_epochs=1, device="cpu", random_state=0).fit(X, y)
        >>> explanation = model.explain(X.head(2))
        >>> list(explanation.integration.columns)
        ['row', 'user', 'item', 'prediction', 'alpha_user', 'alpha_item']
        """
        encoded = self._encode(X, fit=False)
        predictions = self.predict(X)
        with torch_threads(self.n_threads, n_rows=len(encoded)):
            return _explain.explain(self._fitted, self.encoder_, X, encoded, predictions,
                                    encoder=encoder)  # fmt: skip

    def recommend(self, users=None, n=10, *, items=None, exclude_seen=True,
                  user_features=None, item_features=None, encoder=None, rank_by=None):
        """The top `n` items for each user, by the choice head or by predicted rating.

        Parameters
        ----------
        users : id, list of ids or None, default=None
            Users to recommend for; None means every user seen in fit. Users
            unseen in fit need their features in `user_features`.
        n : int, default=10
            Items per user (fewer when fewer candidates remain).
        items : list of ids or None, default=None
            Candidate items; None means every item seen in fit (with its
            features from its last row in fit) and those in `item_features`.
        exclude_seen : bool, default=True
            Leave out the items a user rated in the data passed to fit.
        user_features, item_features : DataFrame or None, default=None
            Feature rows (the id column and that side's feature columns) for
            users or items unseen in fit; they also override the features
            of known ones.
        encoder : SAINEncoder or None, default=None
            For a model fitted on encoded input, the encoder that produced
            it; without it ids are encoded ids.
        rank_by : {"choice", "rating"} or None, default=None
            ``"choice"`` ranks by the choice head (which items the user is
            likely to rate: what a top-N list should show); ``"rating"`` by
            the rating :meth:`predict` gives the pair (how much the user
            would like an item once rated). None: ``"choice"`` when the model
            was fitted with ``choice_head=True``, else ``"rating"``. Ranks
            come from unclipped scores, equal scores ordered by the
            candidates' order.

        Returns
        -------
        recommendations : DataFrame
            Columns ``user``, ``rank`` (1 = best), ``item`` and ``score``,
            sorted by user then rank. ``score`` is the choice head's logit
            (higher is likelier; only its order within a user means
            something) or, with ``rank_by="rating"``, the rating
            :meth:`predict` gives the pair.

        Examples
        --------
        >>> from sklearn_sain import SAINRegressor
        >>> from sklearn_sain.datasets import make_ratings
        >>> X, y = make_ratings(n_users=30, n_items=20, n_ratings=300, random_state=0)
        >>> model = SAINRegressor(max_epochs=1, device="cpu", random_state=0).fit(X, y)
        >>> model.recommend([0, 1], n=3).shape
        (6, 4)
        """
        # every user against every candidate item: large work, the thread policy applies
        check_is_fitted(self, "module_")
        with torch_threads(self.n_threads):
            return _recommend.recommend(self._fitted, self.encoder_, self.clip_predictions,
                                        users, n, items=items, exclude_seen=exclude_seen,
                                        user_features=user_features,
                                        item_features=item_features, encoder=encoder,
                                        rank_by=rank_by)  # fmt: skip

    # ------------------------------------------------------ fitted attributes
    # what fit learned is held by a FittedSAIN; these are the documented views of it

    @property
    def module_(self):
        return self._fitted.module

    @property
    def device_(self) -> torch.device:
        return self._fitted.device

    @property
    def layout_(self):
        return self._fitted.layout

    @property
    def target_mean_(self) -> float:
        return self._fitted.target_mean

    @property
    def target_scale_(self) -> float:
        return self._fitted.target_scale

    @property
    def target_range_(self) -> tuple:
        return self._fitted.target_range

    @property
    def catalog_(self):
        catalog = self._fitted.catalog
        if catalog is None:  # a model saved in format version 1
            raise AttributeError("This model has no catalog (it was saved by an older "
                                 "sklearn_sain)")
        return catalog

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # NaN feature cells are read as missing values, but a NaN id is an error,
        # so the tag that promises NaN anywhere stays False
        tags.input_tags.allow_nan = False
        tags.input_tags.string = False
        tags.input_tags.categorical = True
        # numeric check data is read as ids and categories: a recommender, not a
        # function approximator, so scikit-learn's R^2 > 0.5 smoke test does not apply
        tags.regressor_tags.poor_score = True
        return tags
