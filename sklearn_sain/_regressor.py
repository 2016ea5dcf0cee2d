"""SAINRegressor: the scikit-learn estimator around the SAIN network.

The class declares the parameters (signature, docstring, constraints); the
mixins it inherits do the work, one idea each: ``fit`` and the training
procedure (:mod:`._fitting`), which leaves a
:class:`~sklearn_sain._fitted.FittedSAIN`; how ``X`` is read
(:mod:`._regressor_input`); what a fitted model answers
(:mod:`._regressor_answers`: predict, explain, recommend); how it is saved
and pickled (:mod:`._regressor_persistence`).
"""

from __future__ import annotations

import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils._param_validation import StrOptions

from ._encoding.encoder import SAINEncoder
from ._fitting import RegressorFit
from ._nn.layers import NORMS
from ._nn.training import LOSSES
from ._params import count, invalid, non_negative, positive, share
from ._persistence.persistable import persistable
from ._regressor_answers import RegressorAnswers
from ._regressor_input import RegressorInput
from ._regressor_persistence import RegressorPersistence
from ._validation import check_target

# how the biases start: a ridge fit of user + item biases, or zeros as in the paper
BIAS_INITS = ("ridge", "zeros")


@persistable
class SAINRegressor(RegressorFit, RegressorInput, RegressorAnswers, RegressorPersistence,
                    RegressorMixin, BaseEstimator):
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
    content_anchor : float, default=1e-2
        Weight of a penalty on the squared distance between each known id's
        feedback vector X_CF and its row's content vector X̄ (averaged over
        a batch's rows, like ``l2_reg``). It pulls the two towards each
        other: an id with few ratings keeps a feedback vector close to what
        its features say, and the content vectors learn to say what the ids
        learned, which is what an unseen id's prediction rests on. Training
        only; 0 leaves them apart, as the paper. A side without features is
        not affected. See the cold-start page of the documentation.
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
    id_weight_decay : float in [0, 1), default=0.1
        Share of its value that each id vector loses to decoupled weight
        decay (AdamW, Loshchilov and Hutter, ICLR 2019) over one epoch. It
        acts on the id tables (the user and item id vectors and the
        implicit-feedback tables) at every optimizer step, whether or not
        the batch used a row, in equal steps that compound to this share per
        epoch, whatever the number of rows and the batch size. ``l2_reg``
        acts through the gradient, which Adam rescales per row, so it hardly
        reaches the vector of a rarely seen id; this decay does, and such a
        vector stays near zero unless its ratings keep pulling it away, as
        under a prior. See :doc:`/benchmarks` for what it changed. 0 is
        plain Adam, as the paper.
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
        "content_anchor": [non_negative()],
        "id_dropout": [share()],
        "token_dropout": [share()],
        "choice_head": ["boolean"],
        "l2_reg": [non_negative()],
        "id_weight_decay": [share()],
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
        content_anchor=1e-2,
        id_dropout=0.0,
        token_dropout=0.0,
        choice_head=True,
        l2_reg=1e-4,
        id_weight_decay=0.1,
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
        self.content_anchor = content_anchor
        self.id_dropout = id_dropout
        self.token_dropout = token_dropout
        self.choice_head = choice_head
        self.l2_reg = l2_reg
        self.id_weight_decay = id_weight_decay
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
