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


#: Largest per-channel change (of 255) a 256-colour palette PNG may make; else full colour is kept.
PALETTE_MAX_ERROR = 4


def _palette_png(raw: bytes) -> bytes | None:
    """The PNG re-encoded with a 256-colour palette (3–4× smaller for line art), or None.

    None when the palette would shift any pixel by more than :data:`PALETTE_MAX_ERROR` per
    channel (e.g. smooth gradients) or would not save bytes.
    """
    from PIL import Image

    image = Image.open(io.BytesIO(raw)).convert("RGB")
    quantized = image.quantize(colors=256, method=Image.Quantize.MAXCOVERAGE,
                               dither=Image.Dither.NONE)
    error = np.abs(np.asarray(quantized.convert("RGB"), dtype=np.int16)
                   - np.asarray(image, dtype=np.int16)).max()
    if error > PALETTE_MAX_ERROR:
        return None
    buffer = io.BytesIO()
    quantized.save(buffer, format="png", optimize=True)
    return buffer.getvalue() if buffer.tell() < len(raw) else None


def to_data_uri(fig, *, palette: bool = False) -> str:
    """Render a figure to a PNG data URI and close it (metadata stripped for stable bytes).

    ``palette`` re-encodes it with 256 colours when that is visually lossless (see
    :func:`_palette_png`).
    """
    plt = _plt()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    data = buffer.getvalue()
    data = (_palette_png(data) or data) if palette else data
    return "data:image/png;base64," + base64.b64encode(data).decode()


#: Forest axis: padding added on each side, as a fraction of the cohort range's log10 span.
FOREST_AXIS_PADDING = 0.08
#: Forest axis: the range never reaches beyond these ratios; intervals past them are clipped.
FOREST_AXIS_BOUNDS = (1e-3, 1e3)
#: Forest axis: the narrowest range shown, in decades (log10 units).
FOREST_MIN_DECADES = 0.6
#: At most this many tick labels on a log axis.
MAX_TICK_LABELS = 7
#: Tick ladders (mantissas per decade), finest first; then every decade, every 2nd, ….
_LADDERS = ((1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 9), (1, 1.5, 2, 3, 5, 7), (1, 2, 3, 5),
            (1, 2, 5), (1, 3))


def _ladder_ticks(lo: float, hi: float, mantissas: tuple, decade_step: int) -> list[float]:
    """Ticks m·10^e within [lo, hi] for every mantissa m and every ``decade_step``-th decade e."""
    first, last = int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi)))
    ticks = [float(f"{m}e{e}") for e in range(first, last + 1) if e % decade_step == 0
             for m in mantissas]
    return [t for t in ticks if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)]


def log_ticks(lo: float, hi: float, *, max_labels: int = MAX_TICK_LABELS,
              min_gap: float = 0.1) -> list[float]:
    """Tick values for a log axis spanning ``lo``..``hi`` whose labels cannot crowd.

    Parameters
    ----------
    lo, hi
        Axis limits (positive).
    max_labels
        Most ticks returned.
    min_gap
        Smallest distance between neighbouring ticks, as a fraction of the axis' log span.

    Returns
    -------
    list of float
        Increasing ticks from the finest ladder (1-1.2-1.5-…-9, 1-1.5-2-3-5-7, 1-2-3-5, 1-2-5,
        1-3, every decade, every k-th decade) that meets both limits; ``[1]`` (or the
        geometric mid-point) when nothing fits.
    """
    span = np.log10(hi) - np.log10(lo)
    candidates = [(m, 1) for m in _LADDERS] + [((1,), step) for step in range(1, 13)]
    for mantissas, step in candidates:
        ticks = _ladder_ticks(lo, hi, mantissas, step)
        gaps = np.diff(np.log10(ticks)) if len(ticks) > 1 else np.array([span])
        if 2 <= len(ticks) <= max_labels and gaps.min() >= min_gap * span:
            return ticks
    return [t for t in (1.0,) if lo <= t <= hi] or [float(np.sqrt(lo * hi))]


def tick_text(value: float) -> str:
    """Plain-number tick label (0.001, 0.5, 1, 20, 1000), never scientific notation."""
    return np.format_float_positional(float(f"{value:.3g}"), trim="-")


def _plain_log_ticks(ax) -> None:
    """Label a log x axis with plain numbers (0.25, 0.5, 1, 2, …) that do not overlap."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    lo, hi = ax.get_xlim()
    ax.xaxis.set_major_locator(FixedLocator(log_ticks(lo, hi)))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: tick_text(v)))


def forest_axis_limits(rows: pd.DataFrame) -> tuple[float, float]:
    """x range of a forest plot: the cohort intervals and 1, padded; pooled rows never widen it.

    The range is capped at :data:`FOREST_AXIS_BOUNDS`, widened to at least
    :data:`FOREST_MIN_DECADES` and padded by :data:`FOREST_AXIS_PADDING` of its log span per side.
    """
    values = pd.concat([rows[c] for c in ("ci_low", "effect", "ci_high")]).astype(float).to_numpy()
    values = values[np.isfinite(values) & (values > 0)]
    floor, ceiling = np.log10(FOREST_AXIS_BOUNDS)
    lo = max(min(np.log10(values).min(initial=0.0), 0.0), floor)
    hi = min(max(np.log10(values).max(initial=0.0), 0.0), ceiling)
    if hi - lo < FOREST_MIN_DECADES:
        centre = (hi + lo) / 2
        lo, hi = centre - FOREST_MIN_DECADES / 2, centre + FOREST_MIN_DECADES / 2
    pad = FOREST_AXIS_PADDING * (hi - lo)
    return float(10 ** (lo - pad)), float(10 ** (hi + pad))


def ratio_text(value: float) -> str:
    """A ratio for a forest plot's number column (2 decimals below 10; '<0.01', '>9999')."""
    if np.isnan(value):
        return "NA"
    if value < 0.01:
        return "<0.01"
    if value > 9999:
        return ">9999"
    return f"{value:.0f}" if value >= 100 else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _forest_items(rows: pd.DataFrame, pooled: pd.DataFrame) -> list[tuple]:
    """(label, effect, ci_low, ci_high, is_pooled, method) per row, methods in sorted order."""
    items = []
    for method, grp in rows.groupby("method", sort=True):
        for r in grp.itertuples():
            items.append((f"{r.cohort} ({method})", r.effect, r.ci_low, r.ci_high, False, method))
        pr = pooled[pooled["method"] == method]
        if len(pr) and np.isfinite(pr["effect"].iloc[0]):
            p = pr.iloc[0]
            flag = ", q<1" if str(p.get("hksj_q_below_1")) == "True" else ""
            items.append((f"pooled ({method}), k={int(p['k'])}, I²={p['i2']:.0f}%{flag}",
                          p["effect"], p["ci_low"], p["ci_high"], True, method))
    return items


def _clipped(lo: float, hi: float, limits: tuple[float, float]) -> tuple[bool, bool]:
    """Whether an interval runs off the axis on the left / on the right (never for NaN ends)."""
    return bool(lo <= limits[0]), bool(hi >= limits[1])


def _diamond(y: float, eff: float, lo: float, hi: float,
             limits: tuple[float, float]) -> list[tuple[float, float]]:
    """Vertices of a pooled diamond; a clipped end tapers to the axis edge (arrow drawn there)."""
    x0, x1 = limits
    centre = min(max(eff, x0), x1)
    left = lo if lo > x0 else x0
    right = hi if hi < x1 else x1
    return [(left, y), (centre, y + 0.3), (right, y), (centre, y - 0.3)]


def _draw_forest_row(ax, y: int, item: tuple, limits: tuple[float, float], colour: str) -> None:
    """One cohort line + square or pooled diamond, clipped at the limits with arrow markers."""
    _label, eff, lo, hi, is_pooled, _method = item
    left, right = _clipped(lo, hi, limits)
    has_interval = not (np.isnan(lo) or np.isnan(hi))
    if is_pooled and has_interval:
        ax.fill(*zip(*_diamond(y, eff, lo, hi, limits), strict=True), color=colour)
    elif has_interval:
        ax.plot([max(lo, limits[0]), min(hi, limits[1])], [y, y], color=colour, lw=1.4)
    if (not is_pooled or not has_interval) and limits[0] < eff < limits[1]:
        ax.plot([eff], [y], "D" if is_pooled else "s", color=colour, ms=5)
    for clipped, x, marker in ((left, limits[0], "<"), (right, limits[1], ">")):
        if clipped:
            ax.plot([x], [y], marker=marker, color=colour, ms=6, clip_on=False, gid="clip-arrow",
                    zorder=3)
    arrow = {(True, True): " ↔", (True, False): " ←", (False, True): " →"}.get((left, right), "")
    text = f"{ratio_text(eff)} ({ratio_text(lo)}–{ratio_text(hi)}){arrow}"
    ax.text(1.03, y, text, transform=ax.get_yaxis_transform(), va="center", ha="left",
            fontsize=7, color=colour if is_pooled else "#333", gid="interval-text")


def _forest_legend(ax, interval_label: str) -> None:
    """Legend under the x label naming the cohort interval and the pooled interval rule."""
    from matplotlib.lines import Line2D
    from matplotlib.transforms import ScaledTranslation

    handles = [Line2D([], [], color="#555", marker="s", ms=4, lw=1.4),
               Line2D([], [], color="#555", marker="D", ms=5, lw=0)]
    anchor = ax.transAxes + ScaledTranslation(0, -0.42, ax.figure.dpi_scale_trans)
    ax.legend(handles, ["cohort estimate (95% CI)", interval_label], loc="upper left",
              bbox_to_anchor=(0, 0), bbox_transform=anchor, fontsize=7, frameon=False,
              ncols=2, handlelength=1.6)


def _forest_figure(rows: pd.DataFrame, pooled: pd.DataFrame, *, title: str, xlabel: str,
                   interval_label: str | None = None):
    """The forest plot as a matplotlib Figure (see :func:`forest`)."""
    plt = _plt()
    items = _forest_items(rows, pooled)
    height = 0.9 + 0.28 * max(len(items), 1) + (0.25 if interval_label else 0)
    fig, ax = plt.subplots(figsize=(5.2, height))
    methods = sorted(rows["method"].unique())
    limits = forest_axis_limits(rows)
    ax.set_xscale("log")
    ax.set_xlim(*limits)
    for y, item in enumerate(reversed(items)):
        if not np.isfinite(item[1]):
            ax.text(1, y, "not estimable", va="center", ha="center", fontsize=7, color="#555")
            continue
        _draw_forest_row(ax, y, item, limits, PALETTE[methods.index(item[5]) % len(PALETTE)])
    ax.set_ylim(-0.6, len(items) - 0.4)
    ax.set_yticks(range(len(items)))
    ax.set_yticklabels([i[0] for i in reversed(items)])
    ax.axvline(1, color="#777", lw=0.8, ls="--")
    _plain_log_ticks(ax)
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=9)
    if interval_label:
        _forest_legend(ax, interval_label)
    return fig


def forest(rows: pd.DataFrame, pooled: pd.DataFrame, *, title: str, xlabel: str,
           interval_label: str | None = None) -> str:
    """Forest plot: one line per cohort × method, a diamond per pooled method estimate.

    Parameters
    ----------
    rows
        Per-cohort rows: ``cohort``, ``method``, ``effect``, ``ci_low``, ``ci_high`` (ratio
        scale, e.g. OR or HR).
    pooled
        Pooled rows per ``method``: ``effect``, ``ci_low``, ``ci_high`` (ratio scale), ``k``,
        ``i2`` and optionally ``hksj_q_below_1``.
    title, xlabel
        Figure title and x-axis label.
    interval_label
        The pooled interval rule (e.g. ``"pooled: HKSJ t(1), k = 2"``), shown in a legend under
        the axis; no legend when None.

    Returns
    -------
    str
        PNG data URI (256-colour palette when visually lossless). The x range follows the
        cohort intervals (:func:`forest_axis_limits`); intervals running off it are cut at the
        edge with an arrow, and every row's numbers are printed right of the axis (with ←, →
        or ↔ where clipped).
    """
    return to_data_uri(_forest_figure(rows, pooled, title=title, xlabel=xlabel,
                                      interval_label=interval_label), palette=True)


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


#: Diverging, colour-blind-safe map of the heatmaps (orange = positive log effect).
HEATMAP_CMAP = "PuOr_r"
#: Fill of heatmap cells without an estimate.
NAN_COLOUR = "#d9d9d9"
#: White space (in columns) between the cohort block and the pooled columns.
POOLED_GAP = 0.5


def relative_luminance(rgb) -> float:
    """WCAG 2 relative luminance of an sRGB colour with channels in 0..1."""
    channels = np.asarray(rgb, dtype=float)[:3]
    linear = np.where(channels <= 0.04045, channels / 12.92, ((channels + 0.055) / 1.055) ** 2.4)
    return float(linear @ [0.2126, 0.7152, 0.0722])


def mark_colour(rgb) -> str:
    """Text colour for a cell: white on dark fills, black on light ones (the higher contrast)."""
    lum = relative_luminance(rgb)
    return "#ffffff" if (1.05 / (lum + 0.05)) > ((lum + 0.05) / 0.05) else "#000000"


def heatmap_column_centres(n_columns: int, n_pooled: int) -> np.ndarray:
    """x centre of each heatmap column; the last ``n_pooled`` shift right by :data:`POOLED_GAP`."""
    centres = np.arange(n_columns, dtype=float) + 0.5
    if n_pooled:
        centres[n_columns - n_pooled:] += POOLED_GAP
    return centres


def _check_heatmap_layout(n_columns: int, n_pooled: int, group_breaks: list[int]) -> None:
    """Raise ValueError for a pooled count or group break that does not fit the columns."""
    if not 0 <= n_pooled <= n_columns:
        raise ValueError(f"effect_heatmap: n_pooled={n_pooled} must lie in 0..{n_columns} "
                         f"(the matrix has {n_columns} columns)")
    n_cohort = n_columns - n_pooled
    bad = [j for j in group_breaks if not 0 <= j <= n_cohort]
    if bad:
        raise ValueError(f"effect_heatmap: group_breaks {bad} fall outside the cohort columns "
                         f"0..{n_cohort}; pass the index of each design group's first column")


def _draw_cells(ax, values: np.ndarray, centres: np.ndarray, n_pooled: int, norm, cmap):
    """Cohort and pooled blocks as two meshes (NaN cells grey); returns the first mesh."""
    n_rows, n_columns = values.shape
    n_cohort = n_columns - n_pooled
    cmap = cmap.with_extremes(bad=NAN_COLOUR)
    meshes = []
    for block in (slice(0, n_cohort), slice(n_cohort, n_columns)):
        if block.stop > block.start:
            x = np.append(centres[block] - 0.5, centres[block][-1] + 0.5)
            meshes.append(ax.pcolormesh(x, np.arange(n_rows + 1) - 0.5,
                                        np.ma.masked_invalid(values[:, block]), cmap=cmap,
                                        norm=norm))
    return meshes[0]


def _draw_marks(ax, values: np.ndarray, marks: pd.DataFrame, centres: np.ndarray,
                norm, cmap) -> None:
    """Cell text: the marks in white or black by fill luminance; 'NA' on grey NaN cells."""
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            if not np.isfinite(values[i, j]):
                ax.text(centres[j], i, "NA", ha="center", va="center", fontsize=6, color="#555")
                continue
            text = marks.iat[i, j]
            if isinstance(text, str) and text:
                ax.text(centres[j], i, text, ha="center", va="center", fontsize=7,
                        fontweight="bold", color=mark_colour(cmap(norm(values[i, j]))),
                        gid="mark")


def _draw_separators(ax, centres: np.ndarray, n_pooled: int, group_breaks: list[int]) -> None:
    """Thin lines where a design group starts; a thick line in the gap before the pooled block."""
    n_cohort = len(centres) - n_pooled
    for j in sorted(set(group_breaks) - {0, n_cohort}):
        ax.axvline(centres[j] - 0.5, color="#333", lw=0.9, gid="group-separator")
    if n_pooled and n_cohort:
        ax.axvline(centres[n_cohort - 1] + 0.5 + POOLED_GAP / 2, color="#222", lw=2.2,
                   gid="pooled-separator")


def _heatmap_figure(matrix: pd.DataFrame, marks: pd.DataFrame, *, title: str, label: str,
                    n_pooled: int = 0, group_breaks: list[int] | None = None,
                    orange_means: str | None = None):
    """The effect heatmap as a matplotlib Figure (see :func:`effect_heatmap`)."""
    import matplotlib
    from matplotlib.colors import Normalize
    from matplotlib.patches import Patch

    plt = _plt()
    values = matrix.to_numpy(dtype=float)
    n_rows, n_columns = values.shape
    _check_heatmap_layout(n_columns, n_pooled, list(group_breaks or []))
    limit = np.nanmax(np.abs(values)) if np.isfinite(values).any() else 1.0
    norm, cmap = Normalize(-(limit or 1.0), limit or 1.0), matplotlib.colormaps[HEATMAP_CMAP]
    centres = heatmap_column_centres(n_columns, n_pooled)
    gap = POOLED_GAP if n_pooled else 0
    fig, ax = plt.subplots(figsize=(1.4 + 0.75 * (n_columns + gap), 0.8 + 0.28 * n_rows))
    mesh = _draw_cells(ax, values, centres, n_pooled, norm, cmap)
    ax.set_xlim(0, centres[-1] + 0.5)
    ax.set_ylim(n_rows - 0.5, -0.5)
    ax.set_xticks(centres)
    ax.set_xticklabels(matrix.columns, rotation=40, ha="right")
    ax.set_yticks(range(n_rows))
    ax.set_yticklabels(matrix.index)
    ax.tick_params(length=0)
    _draw_marks(ax, values, marks, centres, norm, cmap)
    _draw_separators(ax, centres, n_pooled, list(group_breaks or []))
    bar = fig.colorbar(mesh, ax=ax, fraction=0.04)
    bar.set_label(f"{label}\n{orange_means}" if orange_means else label)
    if not np.isfinite(values).all():
        ax.legend([Patch(color=NAN_COLOUR)], ["NA: no estimate"], loc="lower left",
                  bbox_to_anchor=(1.0, 1.0), fontsize=6, frameon=False, handlelength=1)
    ax.set_title(title, fontsize=9)
    return fig


def effect_heatmap(matrix: pd.DataFrame, marks: pd.DataFrame, *, title: str, label: str,
                   n_pooled: int = 0, group_breaks: list[int] | None = None,
                   orange_means: str | None = None) -> str:
    """Signature × cohort heatmap of log effects (diverging, colour-blind-safe PuOr).

    Parameters
    ----------
    matrix
        Rows × columns of log effects (NaN where there is no estimate).
    marks
        Same shape: the text drawn in each cell ('**' q < 0.05, '*' p < 0.05), in white on dark
        cells and black on light ones.
    title, label
        Figure title and colour-bar label.
    n_pooled
        The last ``n_pooled`` columns are pooled estimates: set apart by a gap and a thick line.
    group_breaks
        Indices of the cohort columns where a new design group starts (thin lines).
    orange_means
        What a positive (orange) value means, e.g. ``"orange = more pCR"``; added to the
        colour-bar label.

    Returns
    -------
    str
        PNG data URI (256-colour palette when visually lossless).
    """
    return to_data_uri(_heatmap_figure(matrix, marks, title=title, label=label,
                                       n_pooled=n_pooled, group_breaks=group_breaks,
                                       orange_means=orange_means), palette=True)


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
