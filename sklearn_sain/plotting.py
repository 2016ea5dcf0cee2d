"""Figures for explanations: attention heatmaps (the paper's Figure 3) and alpha_CF bars.

matplotlib is optional: it is imported when a function is called, and
installed with ``pip install "sklearn-sain[docs]"`` (or ``pip install matplotlib``).
"""

from __future__ import annotations

import numpy as np

from ._explain import Explanation

__all__ = ["plot_attention", "plot_integration"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "sklearn_sain.plotting needs matplotlib; install it with "
            "pip install \"sklearn-sain[docs]\" (or pip install matplotlib)"
        ) from exc
    return plt


def _check_explanation(explanation):
    if not isinstance(explanation, Explanation):
        raise TypeError(
            "explanation must be the Explanation returned by SAINRegressor.explain, got "
            f"{type(explanation).__name__}"
        )


def _axes(ax, n_panels, plt, width_per_panel, height):
    if ax is None:
        fig, axes = plt.subplots(1, n_panels, figsize=(width_per_panel * n_panels, height),
                                 squeeze=False, constrained_layout=True)
        return fig, list(axes[0])
    axes = list(np.ravel(np.asarray(ax, dtype=object)))
    if len(axes) != n_panels:
        raise ValueError(f"ax must hold {n_panels} Axes (one per head), got {len(axes)}")
    return axes[0].figure, axes


def plot_attention(explanation, row=0, *, heads=None, ax=None, cmap="Blues", vmax=1.0,
                   annotate=None):
    """Draw the attention weights of one row as heatmaps, one per head (Figure 3).

    Each panel has the query tokens on the vertical axis and the key tokens
    on the horizontal one, user tokens first; the colour is the weight a
    query gave a key. Keys that top-K dropped for a query are left blank.

    Parameters
    ----------
    explanation : Explanation
        Returned by :meth:`sklearn_sain.SAINRegressor.explain`.
    row : int, default=0
        Position of the row in the explained ``X``.
    heads : list of int or None, default=None
        Heads to draw; None draws every head.
    ax : matplotlib Axes or sequence of Axes, default=None
        Where to draw, one Axes per head; None creates a figure.
    cmap : str or Colormap, default="Blues"
        Colour map of the weights.
    vmax : float, default=1.0
        Weight drawn in the darkest colour (0 is the lightest). Lower it to
        see differences between weights that are all small.
    annotate : bool or None, default=None
        Write each weight in its cell; None does so for up to 12 tokens.

    Returns
    -------
    axes : list of matplotlib Axes
        One per head drawn.

    Raises
    ------
    ImportError
        When matplotlib is not installed.

    Examples
    --------
    >>> from sklearn_sain import SAINRegressor
    >>> from sklearn_sain.datasets import make_ratings
    >>> from sklearn_sain.plotting import plot_attention
    >>> X, y = make_ratings(n_users=30, n_items=20, n_ratings=300, random_state=0)
    >>> model = SAINRegressor(max_epochs=1, device="cpu", random_state=0).fit(X, y)
    >>> axes = plot_attention(model.explain(X.head(1)))  # doctest: +SKIP
    """
    plt = _pyplot()
    _check_explanation(explanation)
    heads = list(range(explanation.n_heads)) if heads is None else list(heads)
    if not heads:
        raise ValueError("heads must name at least one head")
    tables = [explanation.matrix(row, head) for head in heads]
    n_tokens = len(tables[0])
    annotate = n_tokens <= 12 if annotate is None else annotate
    size = max(3.0, 0.45 * n_tokens + 1.5)
    fig, axes = _axes(ax, len(heads), plt, size, size)
    lines = explanation.attention
    for panel, (axis, head, table) in enumerate(zip(axes, heads, tables)):
        of_head = lines[(lines["row"] == row) & (lines["head"] == head)]
        kept = of_head.pivot(index="query_pos", columns="key_pos", values="kept").to_numpy()
        weights = np.where(kept.astype(bool), table.to_numpy(dtype=float), np.nan)
        image = axis.imshow(np.ma.masked_invalid(weights), cmap=cmap, vmin=0.0, vmax=vmax)
        axis.set_xticks(range(n_tokens), table.columns, rotation=90)
        # every panel has the same tokens: name the queries once, on the left
        axis.set_yticks(range(n_tokens), table.index if panel == 0 else [])
        axis.set_xlabel("key")
        if panel == 0:
            axis.set_ylabel("query")
        k = "all" if explanation.top_k is None else explanation.top_k
        axis.set_title(f"row {row}, head {head} (top_k={k})")
        if annotate:
            for (i, j), value in np.ndenumerate(weights):
                if np.isfinite(value):
                    axis.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                              color="white" if value > 0.6 * vmax else "black")
    fig.colorbar(image, ax=axes, shrink=0.8, label="attention weight")
    return axes


def plot_integration(explanation, *, ax=None):
    """Draw alpha_CF of the user and of the item for each explained row (Eq. 7).

    A bar near 1 means that side of the prediction leaned on feedback (the
    learned id vector), near 0 on content (the features); users and items
    unseen in ``fit`` sit at 0.

    Parameters
    ----------
    explanation : Explanation
        Returned by :meth:`sklearn_sain.SAINRegressor.explain`.
    ax : matplotlib Axes, default=None
        Where to draw; None creates a figure.

    Returns
    -------
    ax : matplotlib Axes
        The Axes drawn on.

    Raises
    ------
    ImportError
        When matplotlib is not installed.
    """
    plt = _pyplot()
    _check_explanation(explanation)
    table = explanation.integration
    if ax is None:
        _, ax = plt.subplots(figsize=(6, max(2.0, 0.35 * len(table) + 1)),
                             constrained_layout=True)
    position = np.arange(len(table))
    ax.barh(position - 0.2, table["alpha_user"], height=0.4, label="user")
    ax.barh(position + 0.2, table["alpha_item"], height=0.4, label="item")
    labels = [f"{u} / {i}" for u, i in zip(table["user"], table["item"])]
    ax.set_yticks(position, labels)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("alpha_CF (0 = content only, 1 = feedback only)")
    ax.set_ylabel("user / item")
    ax.legend(loc="lower right")
    return ax
