"""Which columns of a ratings table are the ids, the user features and the item features.

:class:`~sklearn_sain.SAINEncoder` resolves the columns its parameters name
(:func:`resolve_columns`) and gives each unlisted feature column to the side
it is constant within (:func:`infer_roles`).
"""

from __future__ import annotations

from .tokenize import cell_keys, constant_within


def resolve_columns(names: list, named: bool, user_col, item_col, user_features,
                    item_features):
    """Positions of the id columns and of the listed features (None: not listed).

    ``names`` are the column names of ``X`` (``x0, x1, ...`` when it has none,
    ``named`` False); the other arguments are the encoder's parameters of the
    same names. A column named but absent, out of range, or listed twice is
    a ``ValueError`` that says which.
    """

    def resolve(spec, param, fallback=None):
        if isinstance(spec, str):
            if spec in names:
                return names.index(spec)
            if named or fallback is None:
                shown = ", ".join(map(repr, names[:20])) + (", ..." if len(names) > 20 else "")
                raise ValueError(
                    f"{param}: unknown column(s) [{spec!r}]; X has columns [{shown}]. "
                    f"Name it with SAINEncoder({param}=...), inside a SAINRegressor "
                    f"with SAINRegressor(encoder=SAINEncoder({param}=...))."
                )
            return fallback
        if not -len(names) <= spec < len(names):
            raise ValueError(
                f"{param}: column position {spec} is out of range for X with "
                f"{len(names)} columns."
            )
        return int(spec) % len(names)

    ids = {"user_col": resolve(user_col, "user_col", fallback=0)}
    ids["item_col"] = resolve(item_col, "item_col", fallback=1)
    if ids["user_col"] == ids["item_col"]:
        raise ValueError(
            f"user_col and item_col both refer to column {names[ids['user_col']]!r}."
        )
    lists = {}
    for param, specs in (("user_features", user_features), ("item_features", item_features)):
        unknown = [s for s in specs or () if isinstance(s, str) and s not in names]
        if unknown:
            raise ValueError(f"{param}: unknown column(s) {unknown}.")
        lists[param] = None if specs is None else [resolve(s, param) for s in specs]
        for id_param, pos in ids.items():
            if pos in (lists[param] or ()):
                raise ValueError(
                    f"Column {names[pos]!r} is the id column {id_param} and "
                    f"cannot also be listed in {param}."
                )
        repeated = sorted({names[p] for p in lists[param] or () if lists[param].count(p) > 1})
        if repeated:
            raise ValueError(f"{param} lists column(s) {repeated} more than once.")
    both = set(lists["user_features"] or ()) & set(lists["item_features"] or ())
    if both:
        raise ValueError(
            f"Column(s) {sorted(names[p] for p in both)} are listed in both "
            "user_features and item_features."
        )
    return ids["user_col"], ids["item_col"], *lists.values()


def infer_roles(cells: dict, user_codes, item_codes, n_rows: int):
    """User features, item features (context last) and the context columns.

    ``cells`` maps each unlisted column's position to its tokenized cells
    ``(rows, codes, uniques)``: a column constant within each user is a user
    feature, within each item an item feature, and otherwise a context column.
    """
    n_users, n_items = user_codes.max() + 1, item_codes.max() + 1
    users, items, context = [], [], []
    for pos, (rows, codes, uniques) in cells.items():
        keys = cell_keys(n_rows, rows, codes, len(uniques))
        if constant_within(keys, user_codes, n_users):
            users.append(pos)
        elif constant_within(keys, item_codes, n_items):
            items.append(pos)
        else:
            # a per-interaction column: SAIN has a user side and an item
            # side only, and the item side is where the paper's attention
            # meets what is being rated
            context.append(pos)
    return users, items + context, context
