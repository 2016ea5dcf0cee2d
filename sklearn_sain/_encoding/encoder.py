"""SAINEncoder: turn a ratings table into the padded token ids that SAIN embeds.

The class declares the parameters and learns the fields in ``fit``: which
columns are which (:mod:`.columns`), each cell's values (:mod:`.tokenize`)
and each field's vocabulary (:mod:`.vocabulary`). Its mixins write the
output table and read ids back (:mod:`.encoder_output`) and save and pickle
it (:mod:`.encoder_persistence`).
"""

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils.validation import check_is_fitted, validate_data

from .._params import count, invalid
from .._persistence.persistable import persistable
from .columns import infer_roles, resolve_columns
from .drift import warn_on_type_drift
from .encoder_output import EncoderOutput
from .encoder_persistence import EncoderPersistence
from .ids import UNKNOWN_ID
from .table import check_2d, is_column_spec
from .tokenize import column_values, row_index, slot_positions, tokenize
from .vocabulary import field_vocabulary


def raw_column(encoder, X, field: str) -> np.ndarray:
    """The cells of ``field`` (a column ``encoder`` was fitted on) in a raw table ``X``, as given."""
    return column_values(check_2d(X, type(encoder).__name__), encoder._positions[field])


@persistable
class SAINEncoder(EncoderOutput, EncoderPersistence, TransformerMixin, BaseEstimator):
    """Encode a ratings table into padded integer token ids for SAIN.

    Every column becomes a *field* with its own vocabulary. The user id and
    item id columns give one token per row; the remaining columns are user or
    item features whose cells may hold one value (a number, a string, a
    category) or several (a list, tuple, set or array, or a string such as
    ``"Action|Drama"`` split on ``sep``).

    Token ids are laid out the same way in every field: 0 is padding (no
    value, or a missing cell), 1 is the unknown token (a value not seen in
    ``fit``, or seen in fewer than ``min_frequency`` rows) and the known values
    get 2, 3, ... in sorted order (first-appearance order when the values
    cannot be compared, e.g. a mix of ints and strings). Unknown users, items
    and values never raise at transform time.

    A plain 2-D array (or a DataFrame whose column labels are not strings) is
    read as categorical columns: first user id, second item id, the rest
    features, named ``x0, x1, ...``.

    Parameters
    ----------
    user_col : str or int, default="user_id"
        Column holding the user id, by name or by position. On input without
        column names, a name that cannot be resolved means position 0.

    item_col : str or int, default="item_id"
        Column holding the item id, by name or by position. On input without
        column names, a name that cannot be resolved means position 1.

    user_features : list of str or int, default=None
        Columns describing the user. Missing values are padding, and a column
        may be listed as an empty list when there are no user features.
        When both ``user_features`` and ``item_features`` are None, each other
        column's role is inferred: a column whose value never changes within
        a user is a user feature, else one that never changes within an item
        is an item feature, else it describes the interaction (a time of
        day, a device, the day of a review): such *context* columns join the
        item features, so that their tokens enter the attention with the
        item's, and are listed in ``context_features_``. When only one list
        is given, every other column goes to the other role. When both are
        given, unlisted columns are ignored.

    item_features : list of str or int, default=None
        Columns describing the item; see ``user_features``.

    sep : str or None, default="|"
        Delimiter that splits string cells into several values. Strings
        inside list-like cells are not split. None disables splitting.

    min_frequency : int, default=1
        Feature values found in fewer rows than this map to the unknown id,
        so that its embedding is trained on rare values. User and item ids are
        never dropped.

    min_ids : int, default=1
        Feature values held by fewer distinct users (for a user feature) or
        items (for an item feature) than this map to the unknown id. A value
        of a single item (the one film an actor played in) says nothing its
        id does not, and users and items that arrive after ``fit`` carry
        values never seen: with ``min_ids=2`` the unknown value's embedding
        is trained on the one-item values, as it will be used. The default
        keeps every value; :class:`SAINRegressor`'s own encoder (its
        ``encoder=None``) uses 2.

    max_values : int, default=None
        Keep at most this many values per cell (the first ones, in cell
        order). None keeps them all.

    Attributes
    ----------
    user_col_ : str
        Name of the user id column (``"x<i>"`` on input without names).

    item_col_ : str
        Name of the item id column.

    user_features_ : list of str
        User feature fields, in output order.

    item_features_ : list of str
        Item feature fields, in output order (context columns included).

    context_features_ : list of str
        The item features whose role was inferred as context: their values
        change within a user and within an item. ``recommend`` reads them,
        like the other item features, from each item's last training row
        unless ``item_features`` gives them. Empty when roles were given.

    multi_valued_ : dict of str to bool
        For every field (ids included), whether a training cell held a list
        or a string containing ``sep``.

    field_widths_ : dict of str to int
        Output columns per field: 1 for ids and single-valued fields, the
        largest number of values in a training cell (after ``max_values``)
        for multi-valued fields.

    vocabularies_ : dict of str to pandas.Index
        Known values of every field (ids included); the value at position
        ``k`` has id ``k + 2``.

    vocabulary_sizes_ : dict of str to int
        Number of ids per field, padding and unknown included, keyed by the
        ``"role:field"`` prefix of the output columns (``"user:user_id"``).
        The same dict is stored in ``transform(X).attrs["sklearn_sain"]``.

    n_features_in_ : int
        Number of columns seen during ``fit``.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of columns seen during ``fit``. Defined only when `X` has
        column names that are all strings.

    See Also
    --------
    sklearn.preprocessing.OrdinalEncoder : Encode one value per cell.

    Notes
    -----
    ``transform`` returns a pandas DataFrame of dtype int32 whatever the
    ``set_output`` configuration, indexed like `X` (a RangeIndex for arrays).
    Its columns are ``user:<user_col>``, ``item:<item_col>``, then
    ``user:<field>[j]`` for each user feature and ``item:<field>[j]`` for each
    item feature, ``j`` from 0 to the field width - 1. Values are
    left-aligned and padded with 0; cells longer than the width are cut.
    Repeated values in a cell are kept once, strings are stripped of
    surrounding whitespace and sets are read in iteration order. None, NaN,
    ``pd.NA`` and ``""`` are missing; a missing user or item id is an error.
    Cells are split the same way in ``fit`` and ``transform``, so a list or a
    delimited string met later in a single-valued field keeps its first value.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn_sain import SAINEncoder
    >>> ratings = pd.DataFrame({
    ...     "user_id": ["ann", "bob", "ann"],
    ...     "item_id": [10, 10, 20],
    ...     "age": [31, 45, 31],
    ...     "genres": ["Drama|Comedy", "Drama|Comedy", "Action"],
    ... })
    >>> encoder = SAINEncoder().fit(ratings)
    >>> encoder.user_features_, encoder.item_features_
    (['age'], ['genres'])
    >>> encoder.transform(ratings)
       user:user_id  item:item_id  user:age[0]  item:genres[0]  item:genres[1]
    0             2             2            2               4               3
    1             3             2            3               4               3
    2             2             3            2               2               0
    >>> encoder.decode("genres", [4, 3, 1, 0])
    ['Drama', 'Comedy', '<unk>', '<pad>']
    """

    _parameter_constraints: dict = {
        "user_col": [str, count(0)],
        "item_col": [str, count(0)],
        "user_features": [list, tuple, np.ndarray, pd.Index, None],
        "item_features": [list, tuple, np.ndarray, pd.Index, None],
        "sep": [str, None],
        "min_frequency": [count()],
        "min_ids": [count()],
        "max_values": [count(), None],
    }

    def __init__(
        self,
        *,
        user_col="user_id",
        item_col="item_id",
        user_features=None,
        item_features=None,
        sep="|",
        min_frequency=1,
        min_ids=1,
        max_values=None,
    ):
        self.user_col = user_col
        self.item_col = item_col
        self.user_features = user_features
        self.item_features = item_features
        self.sep = sep
        self.min_frequency = min_frequency
        self.min_ids = min_ids
        self.max_values = max_values

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the field roles, vocabularies and widths from `X`.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Ratings table: a user id column, an item id column and feature
            columns.

        y : None
            Ignored.

        Returns
        -------
        self : SAINEncoder
            Fitted encoder.
        """
        self._fit(X)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Fit to `X` and return its token ids; same as ``fit(X).transform(X)``.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Ratings table.

        y : None
            Ignored.

        Returns
        -------
        X_ids : DataFrame of shape (n_samples, n_features_out), dtype int32
            Token ids; see the class Notes for the column layout.
        """
        encoded, index = self._fit(X)
        return self._assemble(encoded, index)

    def transform(self, X):
        """Map each cell of `X` to token ids.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Ratings table with the columns seen in ``fit``.

        Returns
        -------
        X_ids : DataFrame of shape (n_samples, n_features_out), dtype int32
            Token ids; see the class Notes for the column layout.
        """
        check_is_fitted(self)
        data = check_2d(X, type(self).__name__)
        validate_data(self, data, skip_check_array=True, reset=False)
        index = row_index(data)
        encoded = []
        for _, field, is_id in self._output_fields():
            rows, codes, uniques, exploded = tokenize(
                column_values(data, self._positions[field]), field, index, self.sep, is_id
            )
            found = self.vocabularies_[field].get_indexer(uniques)
            warn_on_type_drift(self.vocabularies_[field], uniques, found, field)
            ids = np.where(found < 0, UNKNOWN_ID, found + 2).astype(np.int32)
            encoded.append((rows, ids[codes], exploded))
        return self._assemble(encoded, index)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # NaN is a missing feature value, but a NaN user or item id is an
        # error, so the estimator as a whole does not accept arbitrary NaNs.
        tags.input_tags.allow_nan = False
        # Strings are encoded, yet objects such as dicts must still be refused
        # with the TypeError that scikit-learn expects from non-string input.
        tags.input_tags.string = False
        tags.transformer_tags.preserves_dtype = []
        tags.requires_fit = True
        return tags

    def _check_params(self):
        """What ``_parameter_constraints`` cannot say: the lists' contents, an empty ``sep``."""
        for name in ("user_features", "item_features"):
            value = getattr(self, name)
            if value is not None and not all(is_column_spec(column) for column in value):
                raise invalid(self, name, "None or a list of column names (str) or positions "
                                          "(int)", value)  # fmt: skip
        if self.sep == "":
            raise invalid(self, "sep", "a non-empty str or None", self.sep)

    def _fit(self, X):
        self._check_params()
        name = type(self).__name__
        data = check_2d(X, name)
        n_rows, n_cols = data.shape
        if n_rows < 1:
            raise ValueError(
                f"Found array with 0 sample(s) (shape={data.shape}) while a minimum "
                f"of 1 is required by {name}."
            )
        if n_cols < 2:
            raise ValueError(
                f"Found array with {n_cols} feature(s) (shape={data.shape}) while a "
                f"minimum of {n_cols + 1} is required by {name}: X needs a user id "
                "column and an item id column."
            )
        validate_data(self, data, skip_check_array=True, reset=True)
        named = hasattr(self, "feature_names_in_")
        names = (
            [str(c) for c in self.feature_names_in_]
            if named
            else [f"x{j}" for j in range(n_cols)]
        )
        index = row_index(data)
        user_pos, item_pos, user_feats, item_feats = resolve_columns(
            names, named, self.user_col, self.item_col, self.user_features, self.item_features
        )

        ids = {}
        for pos in (user_pos, item_pos):
            ids[pos] = tokenize(column_values(data, pos), names[pos], index, None, True)
        candidates = [p for p in range(n_cols) if p not in (user_pos, item_pos)]
        if user_feats is not None and item_feats is not None:
            candidates = user_feats + item_feats
        cells, exploded = {}, {}
        for pos in candidates:
            rows, codes, uniques, exploded[pos] = tokenize(
                column_values(data, pos), names[pos], index, self.sep, False
            )
            if exploded[pos] and self.max_values is not None:
                kept = slot_positions(rows) < self.max_values
                rows, codes = rows[kept], codes[kept]
            cells[pos] = rows, codes, uniques

        context = []
        if user_feats is None and item_feats is None:
            user_feats, item_feats, context = infer_roles(
                cells, ids[user_pos][1], ids[item_pos][1], n_rows
            )
        elif user_feats is None:
            user_feats = [p for p in candidates if p not in item_feats]
        elif item_feats is None:
            item_feats = [p for p in candidates if p not in user_feats]

        self.user_col_, self.item_col_ = names[user_pos], names[item_pos]
        self.user_features_ = [names[p] for p in user_feats]
        self.item_features_ = [names[p] for p in item_feats]
        self.context_features_ = [names[p] for p in context]
        self._positions = {
            names[p]: p for p in [user_pos, item_pos, *user_feats, *item_feats]
        }
        self.multi_valued_, self.field_widths_ = {}, {}
        self.vocabularies_, self.vocabulary_sizes_ = {}, {}
        encoded = []
        for role, field, is_id in self._output_fields():
            pos = self._positions[field]
            rows, codes, uniques = ids[pos][:3] if is_id else cells[pos]
            multi = False if is_id else exploded[pos]
            owners = None
            if not is_id and self.min_ids > 1:
                owners = ids[user_pos if role == "user" else item_pos][1][rows]
            vocabulary, id_of_code = field_vocabulary(
                codes, uniques, min_count=1 if is_id else self.min_frequency,
                owners=owners, min_owners=self.min_ids,
            )
            per_row = np.bincount(rows) if multi and len(rows) else np.ones(1, int)
            self.multi_valued_[field] = multi
            self.field_widths_[field] = int(max(per_row.max(), 1))
            self.vocabularies_[field] = vocabulary
            self.vocabulary_sizes_[f"{role}:{field}"] = len(vocabulary) + 2
            encoded.append((rows, id_of_code[codes], multi))
        return encoded, index

