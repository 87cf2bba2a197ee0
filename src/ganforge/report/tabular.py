"""The tabular evaluation as a report fragment: scores, per-column shape bars, the worst marginals."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

import ganforge.report.html as h
from ganforge.metrics.tabular import category_shares
from ganforge.utils.figures import figure_data_uri, new_figure

if TYPE_CHECKING:
    import pandas as pd

FEATURE = "the tabular report's figures"


def _bars_figure(shapes: dict[str, Any]) -> str:
    items = sorted(shapes["columns"].items(), key=lambda kv: kv[1]["score"])
    fig = new_figure(FEATURE, figsize=(7.0, 0.9 + 0.24 * len(items)), dpi=100, layout="constrained")
    ax = fig.subplots()
    colors = ["C0" if v["metric"] == "ks" else "C1" for _, v in items]
    ax.barh([k for k, _ in items], [v["score"] for _, v in items], color=colors)
    ax.set_xlim(0, 1)
    ax.set_xlabel("column shape score (blue: 1 − KS, orange: 1 − TVD)", fontsize=8)
    ax.tick_params(labelsize=7)
    return figure_data_uri(fig)


def marginals_figure(real: pd.DataFrame, synthetic: pd.DataFrame, cols: list[Any], discrete: set) -> str:
    fig = new_figure(FEATURE, figsize=(3.4 * len(cols), 2.6), dpi=100, layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(cols)))
    for ax, col in zip(axes, cols, strict=True):
        if col in discrete:
            p, q = category_shares(real[col]), category_shares(synthetic[col])
            cats = sorted(set(p) | set(q), key=lambda c: -p.get(c, 0.0))[:12]
            x = np.arange(len(cats))
            ax.bar(x - 0.2, [p.get(c, 0.0) for c in cats], 0.4, label="real")
            ax.bar(x + 0.2, [q.get(c, 0.0) for c in cats], 0.4, label="synthetic")
            ax.set_xticks(x, [str(c)[:10] for c in cats], rotation=45, fontsize=7)
        else:
            r, s = real[col].dropna().to_numpy(float), synthetic[col].dropna().to_numpy(float)
            bins = np.histogram_bin_edges(r, bins=30)  # shared edges from the real data
            ax.hist(r, bins=bins, density=True, alpha=0.55, label="real")
            ax.hist(np.clip(s, bins[0], bins[-1]), bins=bins, density=True, alpha=0.55, label="synthetic")
        ax.set_title(str(col), fontsize=9)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7, frameon=False)
    return figure_data_uri(fig)


def worst_columns(shapes: dict[str, Any], real: pd.DataFrame, n: int) -> list[Any]:
    """The ``n`` columns of ``real`` whose shapes (``column_shapes``) match worst: where to look first."""
    worst = sorted(shapes["columns"].items(), key=lambda kv: kv[1]["score"])
    by_name = {str(c): c for c in real.columns}
    return [by_name[name] for name, _ in worst[:n] if name in by_name]


def tabular_report_html(
    result: dict[str, Any],
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    discrete_columns: list[str],
    n_marginals: int = 3,
) -> str:
    """A self-contained HTML fragment (PNG figures inlined as data URIs, all text escaped): a score
    table, per-column shape scores as bars, and real-vs-synthetic marginals of the ``n_marginals``
    worst-scoring columns (where a reader should look first)."""
    rows: list[tuple[str, Any]] = [
        ("quality", result["quality"]),
        ("column shapes", result["column_shapes"]["score"]),
        ("column pair trends", result["column_pair_trends"]["score"]),
    ]
    eff, priv = result.get("ml_efficacy"), result.get("dcr")
    if eff:
        metric = eff["metric"]
        rows += [
            (f"ML efficacy: real → holdout ({metric})", (eff["real"] or {}).get(metric)),
            (f"ML efficacy: synthetic → holdout ({metric})", (eff["synthetic"] or {}).get(metric)),
            ("ML efficacy ratio", eff["ratio"]),
        ]
    if priv:
        rows += [
            ("DCR median: synthetic / holdout", f"{priv['synthetic_to_train']['median']:.4g} / "
             f"{priv['holdout_to_train']['median']:.4g}"),
            ("share of synthetic rows ≤ holdout DCR p5", priv["share_closer"]),
            ("holdout's own share", priv["holdout_share"]),
        ]  # fmt: skip
    parts = ['<div class="tabular-eval">', "<h3>Scores</h3>", h.facts_table(rows)]
    if priv and priv["flagged"]:
        parts.append(
            '<p class="warn">DCR: synthetic rows sit near training rows more often than fresh real rows'
            " do: the generator may be copying its training data.</p>"
        )
    parts += ["<h3>Column shapes</h3>", h.img(_bars_figure(result["column_shapes"]), "column shape scores")]
    cols = worst_columns(result["column_shapes"], real, n_marginals)
    if cols:
        uri = marginals_figure(real, synthetic, cols, set(discrete_columns))
        parts += ["<h3>Marginals of the worst-scoring columns</h3>", h.img(uri, "marginal histograms")]
    parts.append("</div>")
    return "\n".join(parts)


__all__ = ["marginals_figure", "tabular_report_html", "worst_columns"]
