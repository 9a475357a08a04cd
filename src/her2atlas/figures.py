"""Report figures (matplotlib, Agg), returned as base64 PNG data URIs for self-contained HTML."""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd

from .stats import kaplan_meier

#: Okabe–Ito colour-blind-safe palette.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.size": 8, "axes.spines.top": False, "axes.spines.right": False,
                         "svg.hashsalt": "her2atlas", "figure.dpi": 90})
    return plt


def to_data_uri(fig) -> str:
    """Render a figure to a PNG data URI and close it (metadata stripped for stable bytes)."""
    plt = _plt()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _plain_log_ticks(ax) -> None:
    """Label a log axis with plain numbers (0.25, 0.5, 1, 2, …) instead of powers of ten."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    lo, hi = ax.get_xlim()
    candidates = [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 10, 20]
    ticks = [t for t in candidates if lo <= t <= hi] or [1]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))


def forest(rows: pd.DataFrame, pooled: pd.DataFrame, *, title: str, xlabel: str) -> str:
    """Forest plot: one line per cohort × method, a diamond per pooled method estimate."""
    plt = _plt()
    items = []
    for method, grp in rows.groupby("method", sort=True):
        for r in grp.itertuples():
            items.append((f"{r.cohort} ({method})", r.effect, r.ci_low, r.ci_high, False, method))
        pr = pooled[pooled["method"] == method]
        if len(pr) and np.isfinite(pr["effect"].iloc[0]):
            p = pr.iloc[0]
            flag = ", q<1" if str(p.get("hksj_q_below_1")) == "True" else ""
            items.append((f"pooled ({method}), k={int(p['k'])}, I²={p['i2']:.0f}%{flag}",
                          p["effect"], p["ci_low"],
                          p["ci_high"], True, method))
    height = 0.9 + 0.28 * max(len(items), 1)
    fig, ax = plt.subplots(figsize=(5.2, height))
    methods = sorted(rows["method"].unique())
    for y, (_label, eff, lo, hi, is_pooled, method) in enumerate(reversed(items)):
        colour = PALETTE[methods.index(method) % len(PALETTE)]
        if not np.isfinite(eff):
            ax.text(1, y, "not estimable", va="center", ha="center", fontsize=7, color="#555")
            continue
        if is_pooled:
            ax.fill([lo, eff, hi, eff], [y, y + 0.3, y, y - 0.3], color=colour)
        else:
            ax.plot([lo, hi], [y, y], color=colour, lw=1.4)
            ax.plot([eff], [y], "s", color=colour, ms=5)
    ax.set_yticks(range(len(items)))
    ax.set_yticklabels([i[0] for i in reversed(items)])
    ax.axvline(1, color="#777", lw=0.8, ls="--")
    ax.set_xscale("log")
    _plain_log_ticks(ax)
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=9)
    return to_data_uri(fig)


def score_by_group(score: np.ndarray, group: np.ndarray, labels: tuple[str, str], *,
                   title: str) -> str:
    """Strip + box plot of a score in two groups (e.g. RD vs pCR)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(2.8, 2.6))
    data = [score[group == 0], score[group == 1]]
    ax.boxplot(data, widths=0.5, showfliers=False)
    rng = np.random.default_rng(0)
    for i, values in enumerate(data, start=1):
        ax.scatter(i + rng.uniform(-0.12, 0.12, len(values)), values, s=8,
                   color=PALETTE[i - 1], alpha=0.8, zorder=3)
    ax.set_xticks([1, 2])
    ax.set_xticklabels([f"{labels[0]}\n(n={len(data[0])})", f"{labels[1]}\n(n={len(data[1])})"])
    ax.set_ylabel("score (z within subgroup)")
    ax.set_title(title, fontsize=8)
    return to_data_uri(fig)


def roc(curves: list[tuple[str, np.ndarray, np.ndarray, float]], *, title: str) -> str:
    """ROC curves: (label, score, outcome, auc) per curve."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(3.0, 3.0))
    for i, (label, score, outcome, auc) in enumerate(curves):
        order = np.argsort(-score, kind="stable")
        y = outcome[order]
        tpr = np.concatenate([[0], np.cumsum(y) / max(y.sum(), 1)])
        fpr = np.concatenate([[0], np.cumsum(1 - y) / max((1 - y).sum(), 1)])
        ax.plot(fpr, tpr, color=PALETTE[i % len(PALETTE)], lw=1.3, label=f"{label} AUC={auc:.2f}")
    ax.plot([0, 1], [0, 1], color="#999", lw=0.7, ls="--")
    ax.set_xlabel("1 − specificity")
    ax.set_ylabel("sensitivity")
    ax.legend(fontsize=6, loc="lower right", frameon=False)
    ax.set_title(title, fontsize=8)
    return to_data_uri(fig)


def kaplan_meier_plot(time: np.ndarray, event: np.ndarray, groups: list[tuple[str, np.ndarray]],
                      *, title: str, p_value: float, endpoint: str) -> str:
    """Kaplan–Meier curves per score group (e.g. low/high or tertiles), numbers at risk below."""
    plt = _plt()
    fig, (ax, risk) = plt.subplots(2, 1, figsize=(4.0, 3.2 + 0.15 * len(groups)),
                                   gridspec_kw={"height_ratios": [4, 0.5 + 0.3 * len(groups)]},
                                   sharex=True)
    for i, (label, mask) in enumerate(groups):
        t, s = kaplan_meier(time[mask], event[mask])
        t = np.append(t, time[mask].max())
        s = np.append(s, s[-1])
        ax.step(t, s, where="post", color=PALETTE[i], label=f"{label} (n={mask.sum()})")
    ax.set_ylim(0, 1.02)
    ax.set_ylabel(f"{endpoint.upper()} probability")
    ax.legend(fontsize=6, frameon=False, loc="lower left")
    ax.set_title(f"{title}\nlog-rank p = {p_value:.3g}", fontsize=8)
    ticks = np.linspace(0, np.nanmax(time), 5)
    for i, (_label, mask) in enumerate(groups):
        counts = [int((time[mask] >= t).sum()) for t in ticks]
        for t, c in zip(ticks, counts, strict=True):
            risk.text(t, len(groups) - 1 - i, str(c), ha="center", va="center", fontsize=6,
                      color=PALETTE[i])
    risk.set_yticks(list(range(len(groups) - 1, -1, -1)))
    risk.set_yticklabels([g[0] for g in groups], fontsize=6)
    risk.set_ylim(-0.5, len(groups) - 0.5)
    risk.set_xlabel("months")
    risk.set_title("numbers at risk", fontsize=6, loc="left")
    risk.spines["left"].set_visible(False)
    return to_data_uri(fig)


def sample_distributions(qc: dict, *, title: str) -> str:
    """Per-sample expression quantiles (median line with 25–75% and 5–95% bands)."""
    plt = _plt()
    q = qc["sample_quantiles"]
    order = np.argsort(q["median"])
    x = np.arange(len(order))
    fig, ax = plt.subplots(figsize=(5.0, 2.2))
    ax.fill_between(x, np.asarray(q["p5"])[order], np.asarray(q["p95"])[order], color="#cfe2f3",
                    label="5–95%")
    ax.fill_between(x, np.asarray(q["p25"])[order], np.asarray(q["p75"])[order], color="#6fa8dc",
                    label="25–75%")
    ax.plot(x, np.asarray(q["median"])[order], color="#0b5394", lw=1, label="median")
    ax.set_xlabel("samples (sorted by median)")
    ax.set_ylabel("log2 expression")
    ax.legend(fontsize=6, frameon=False, ncols=3)
    ax.set_title(title, fontsize=8)
    return to_data_uri(fig)


def effect_heatmap(matrix: pd.DataFrame, marks: pd.DataFrame, *, title: str, label: str) -> str:
    """Signature × cohort heatmap of log effects (diverging, colour-blind-safe PuOr).

    ``marks`` holds the text drawn in each cell ('**' q < 0.05, '*' p < 0.05).
    """
    plt = _plt()
    values = matrix.to_numpy(dtype=float)
    limit = np.nanmax(np.abs(values)) if np.isfinite(values).any() else 1.0
    fig, ax = plt.subplots(figsize=(1.4 + 0.75 * matrix.shape[1], 0.8 + 0.28 * matrix.shape[0]))
    image = ax.imshow(np.ma.masked_invalid(values), cmap="PuOr_r", vmin=-limit, vmax=limit,
                      aspect="auto")
    ax.set_xticks(range(matrix.shape[1]))
    ax.set_xticklabels(matrix.columns, rotation=40, ha="right")
    ax.set_yticks(range(matrix.shape[0]))
    ax.set_yticklabels(matrix.index)
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            text = "NA" if not np.isfinite(values[i, j]) else marks.iat[i, j]
            ax.text(j, i, text, ha="center", va="center", fontsize=7, color="#222")
    bar = fig.colorbar(image, ax=ax, fraction=0.04)
    bar.set_label(label)
    ax.set_title(title, fontsize=9)
    return to_data_uri(fig)


def pca_plot(X: np.ndarray, groups: pd.Series, *, title: str) -> str:
    """First two principal components of the 2,000 most variable genes, coloured by group."""
    plt = _plt()
    X = np.asarray(X, dtype=float)
    X = X[:, ~np.isnan(X).any(axis=0)]
    top = np.argsort(-X.var(axis=0))[:2000]
    centred = X[:, top] - X[:, top].mean(axis=0)
    u, sv, _ = np.linalg.svd(centred, full_matrices=False)
    pcs = u[:, :2] * sv[:2]
    explained = sv[:2] ** 2 / np.sum(sv**2) * 100
    fig, ax = plt.subplots(figsize=(3.6, 3.0))
    labels = groups.astype(object).where(groups.notna(), "NA").astype(str)
    for i, level in enumerate(sorted(labels.unique())):
        m = (labels == level).to_numpy()
        ax.scatter(pcs[m, 0], pcs[m, 1], s=10, color=PALETTE[i % len(PALETTE)], label=level,
                   alpha=0.85)
    ax.set_xlabel(f"PC1 ({explained[0]:.0f}%)")
    ax.set_ylabel(f"PC2 ({explained[1]:.0f}%)")
    ax.legend(fontsize=6, frameon=False, title=groups.name, title_fontsize=6)
    ax.set_title(title, fontsize=8)
    return to_data_uri(fig)


def score_by_category(score: np.ndarray, categories: pd.Series, *, title: str) -> str:
    """Box + strip plot of a score across the levels of a category (e.g. treatment arm)."""
    plt = _plt()
    labels = categories.astype(object).where(categories.notna(), "NA").astype(str).to_numpy()
    levels = sorted(set(labels))
    data = [score[labels == lv] for lv in levels]
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(levels), 2.6))
    ax.boxplot(data, widths=0.5, showfliers=False)
    rng = np.random.default_rng(0)
    for i, values in enumerate(data, start=1):
        ax.scatter(i + rng.uniform(-0.12, 0.12, len(values)), values, s=7,
                   color=PALETTE[(i - 1) % len(PALETTE)], alpha=0.8, zorder=3)
    ax.set_xticks(range(1, len(levels) + 1))
    ax.set_xticklabels([f"{lv}\n(n={len(d)})" for lv, d in zip(levels, data, strict=True)],
                       fontsize=6, rotation=20)
    ax.set_ylabel("score (z within cohort)")
    ax.set_title(title, fontsize=8)
    return to_data_uri(fig)
