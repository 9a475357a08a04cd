"""Report figures: readable log ticks, forest axis and clipping, heatmap layout and marks."""

from __future__ import annotations

import base64
import io
import struct

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex, to_rgba

from her2atlas import figures

matplotlib.use("Agg")


def _wcag_luminance(rgba) -> float:
    """Relative luminance per WCAG 2.1 (written out here, independent of the module)."""
    out = 0.0
    for weight, c in zip((0.2126, 0.7152, 0.0722), rgba[:3], strict=True):
        out += weight * (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
    return out


def _cohort_rows(lows, highs, effects=None) -> pd.DataFrame:
    n = len(lows)
    effects = effects or [float(np.sqrt(lo * hi)) for lo, hi in zip(lows, highs, strict=True)]
    return pd.DataFrame({"cohort": [f"C{i}" for i in range(n)], "method": "zmean",
                         "effect": effects, "ci_low": lows, "ci_high": highs})


def _pooled(effect, low, high, k=2) -> pd.DataFrame:
    return pd.DataFrame({"method": ["zmean"], "effect": [effect], "ci_low": [low],
                         "ci_high": [high], "k": [k], "i2": [0.0], "hksj_q_below_1": [False]})


def _visible_tick_labels(fig):
    fig.canvas.draw()
    ax = fig.axes[0]
    lo, hi = ax.get_xlim()
    return [(t, lab) for t, lab in zip(ax.get_xticks(), ax.get_xticklabels(), strict=True)
            if lo <= t <= hi]


@pytest.mark.parametrize("span", [(0.05, 20.0), (0.001, 1000.0), (0.25, 4.0), (0.8, 1.3)])
def test_log_ticks_increase_fit_and_stay_few(span):
    lo, hi = span
    ticks = figures.log_ticks(lo, hi)
    assert len(ticks) <= figures.MAX_TICK_LABELS
    assert len(ticks) >= 2
    assert np.all(np.diff(ticks) > 0)
    assert lo <= ticks[0]
    assert ticks[-1] <= hi


def test_tick_text_is_plain_numbers():
    assert [figures.tick_text(v) for v in (0.001, 0.1 * 3, 1.0, 20.0, 1000.0)] == [
        "0.001", "0.3", "1", "20", "1000"]


@pytest.mark.parametrize("span", [(0.05, 20.0), (0.001, 1000.0), (0.2, 5.0), (0.6, 1.7)])
def test_forest_tick_labels_do_not_overlap_when_rendered(span):
    rows = _cohort_rows([span[0], 0.9], [1.1, span[1]])
    fig = figures._forest_figure(rows, _pooled(1.0, 0.5, 2.0), title="t", xlabel="OR")
    labelled = _visible_tick_labels(fig)
    renderer = fig.canvas.get_renderer()
    boxes = [lab.get_window_extent(renderer) for _, lab in labelled]
    texts = [lab.get_text() for _, lab in labelled]
    matplotlib.pyplot.close(fig)
    assert 2 <= len(boxes) <= figures.MAX_TICK_LABELS
    assert all("e" not in t for t in texts)
    for left, right in zip(boxes, boxes[1:], strict=False):
        assert left.x1 < right.x0, f"tick labels {texts} overlap"


def test_forest_wide_span_labels_every_decade():
    rows = _cohort_rows([0.001, 0.9], [1.1, 1000.0])
    fig = figures._forest_figure(rows, _pooled(1.0, 0.5, 2.0), title="t", xlabel="OR")
    texts = [lab.get_text() for _, lab in _visible_tick_labels(fig)]
    matplotlib.pyplot.close(fig)
    assert texts == ["0.001", "0.01", "0.1", "1", "10", "100", "1000"]


def test_forest_axis_follows_cohorts_and_clips_a_wide_pooled_interval():
    rows = _cohort_rows([0.2, 0.5, 0.8], [2.0, 5.0, 3.0], effects=[0.7, 1.6, 1.5])
    pooled = _pooled(1.2, 0.0014, 859.0)
    fig = figures._forest_figure(rows, pooled, title="t", xlabel="OR per SD",
                                 interval_label="pooled: HKSJ t(1), k = 2")
    ax = fig.axes[0]
    pad = figures.FOREST_AXIS_PADDING * np.log10(5.0 / 0.2)
    assert ax.get_xlim() == pytest.approx((0.2 / 10**pad, 5.0 * 10**pad), rel=1e-9)
    pooled_y = 0  # rows run top to bottom: cohorts C0, C1, C2, then the pooled row
    arrows = [line for line in ax.get_lines() if line.get_gid() == "clip-arrow"]
    assert sorted(float(a.get_xdata()[0]) for a in arrows) == pytest.approx(ax.get_xlim())
    assert [float(a.get_ydata()[0]) for a in arrows] == [pooled_y, pooled_y]
    texts = {t.get_position()[1]: t.get_text() for t in ax.texts if t.get_gid() == "interval-text"}
    assert texts[pooled_y] == "1.20 (<0.01–859) ↔"
    assert texts[3] == "0.70 (0.20–2.00)"
    diamond = ax.patches[0].get_xy()
    assert diamond[:, 0].min() == pytest.approx(ax.get_xlim()[0])
    assert diamond[:, 0].max() == pytest.approx(ax.get_xlim()[1])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "cohort estimate (95% CI)", "pooled: HKSJ t(1), k = 2"]
    matplotlib.pyplot.close(fig)


def test_forest_one_sided_clip_marks_only_that_side():
    rows = _cohort_rows([0.5, 0.7], [2.0, 1.5])
    fig = figures._forest_figure(rows, _pooled(1.1, 0.6, 40.0), title="t", xlabel="HR")
    ax = fig.axes[0]
    arrows = [line for line in ax.get_lines() if line.get_gid() == "clip-arrow"]
    texts = {t.get_position()[1]: t.get_text() for t in ax.texts if t.get_gid() == "interval-text"}
    assert [a.get_marker() for a in arrows] == [">"]
    assert texts == {0: "1.10 (0.60–40.0) →", 1: "1.02 (0.70–1.50)", 2: "1.00 (0.50–2.00)"}
    assert ax.get_legend() is None  # no interval label passed: no legend, as before
    matplotlib.pyplot.close(fig)


def test_forest_axis_never_passes_the_bounds():
    rows = _cohort_rows([1e-6, 0.5], [2.0, 1e7])
    lo, hi = figures.forest_axis_limits(rows)
    pad = figures.FOREST_AXIS_PADDING * 6
    assert (lo, hi) == pytest.approx((1e-3 / 10**pad, 1e3 * 10**pad))


def _png_size(uri: str) -> tuple[int, int, int]:
    data = base64.b64decode(uri.split(",", 1)[1])
    width, height = struct.unpack(">II", data[16:24])
    return width, height, len(data)


def test_forest_returns_a_compact_png_data_uri():
    uri = figures.forest(_cohort_rows([0.2, 0.5], [2.0, 5.0]), _pooled(1.2, 0.0014, 859.0),
                         title="t", xlabel="OR")
    assert uri.startswith("data:image/png;base64,")
    width, height, size = _png_size(uri)
    assert width > 200
    assert height > 100
    assert size < 60_000


def _heatmap_input(values, columns=None):
    values = np.asarray(values, dtype=float)
    columns = columns or [f"c{j}" for j in range(values.shape[1])]
    matrix = pd.DataFrame(values, index=[f"s{i}" for i in range(values.shape[0])],
                          columns=columns)
    return matrix, pd.DataFrame("*", index=matrix.index, columns=matrix.columns)


def test_heatmap_mark_colour_follows_cell_luminance():
    matrix, marks = _heatmap_input([[1.0, 0.0, -1.0, 0.3]])
    fig = figures._heatmap_figure(matrix, marks, title="t", label="log OR")
    cmap = matplotlib.colormaps[figures.HEATMAP_CMAP]
    drawn = {round(t.get_position()[0], 3): to_hex(t.get_color())
             for t in fig.axes[0].texts if t.get_gid() == "mark"}
    matplotlib.pyplot.close(fig)
    for j, value in enumerate([1.0, 0.0, -1.0, 0.3]):
        luminance = _wcag_luminance(cmap((value + 1.0) / 2.0))
        expected = "#ffffff" if luminance < 0.1791 else "#000000"
        assert drawn[j + 0.5] == expected, (value, luminance)
    assert drawn[0.5] == "#ffffff"  # deepest orange is dark
    assert drawn[1.5] == "#000000"  # the neutral centre is light


def test_heatmap_pooled_columns_sit_right_of_a_separator():
    matrix, marks = _heatmap_input(np.zeros((2, 6)) + [[0.1], [0.2]])
    fig = figures._heatmap_figure(matrix, marks, title="t", label="l", n_pooled=2,
                                  group_breaks=[0, 2])
    ax = fig.axes[0]
    ticks = ax.get_xticks()
    pooled_lines = [line for line in ax.get_lines() if line.get_gid() == "pooled-separator"]
    group_lines = [line for line in ax.get_lines() if line.get_gid() == "group-separator"]
    assert len(pooled_lines) == 1
    assert ticks[3] < pooled_lines[0].get_xdata()[0] < ticks[4]
    assert ticks[4] - ticks[3] == pytest.approx(1 + figures.POOLED_GAP)
    assert ticks[1] - ticks[0] == pytest.approx(1.0)
    assert [line.get_xdata()[0] for line in group_lines] == pytest.approx([(ticks[1] + ticks[2]) / 2])
    assert [t.get_text() for t in ax.get_xticklabels()] == list(matrix.columns)
    matplotlib.pyplot.close(fig)


def test_heatmap_defaults_draw_no_separators():
    matrix, marks = _heatmap_input([[0.1, -0.2, 0.3]])
    fig = figures._heatmap_figure(matrix, marks, title="t", label="log HR per SD")
    ax = fig.axes[0]
    assert [line.get_gid() for line in ax.get_lines()] == []
    assert list(ax.get_xticks()) == pytest.approx([0.5, 1.5, 2.5])
    assert fig.axes[1].get_ylabel() == "log HR per SD"
    matplotlib.pyplot.close(fig)


def test_heatmap_names_orange_and_greys_missing_cells():
    matrix, marks = _heatmap_input([[0.5, np.nan], [-0.4, 0.2]])
    fig = figures._heatmap_figure(matrix, marks, title="t", label="log HR per SD", n_pooled=1,
                                  orange_means="orange = higher hazard (worse survival)")
    fig.canvas.draw()
    assert fig.axes[1].get_ylabel() == "log HR per SD\norange = higher hazard (worse survival)"
    pooled_mesh = fig.axes[0].collections[1]
    assert to_hex(pooled_mesh.get_facecolors()[0]) == to_hex(to_rgba(figures.NAN_COLOUR))
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["NA: no estimate"]
    assert [t.get_text() for t in fig.axes[0].texts if t.get_gid() != "mark"] == ["NA"]
    matplotlib.pyplot.close(fig)


def test_heatmap_rejects_group_breaks_outside_the_cohort_columns():
    matrix, marks = _heatmap_input([[0.1, 0.2, 0.3]])
    with pytest.raises(ValueError, match=r"group_breaks \[3\] fall outside the cohort columns 0..2"):
        figures._heatmap_figure(matrix, marks, title="t", label="l", n_pooled=1, group_breaks=[3])


def test_effect_heatmap_returns_a_compact_png_data_uri():
    matrix, marks = _heatmap_input(np.linspace(-1, 1, 12).reshape(3, 4))
    uri = figures.effect_heatmap(matrix, marks, title="t", label="l", n_pooled=1)
    width, height, size = _png_size(uri)
    assert width > 200
    assert height > 100
    assert size < 60_000


def _decode(uri: str) -> np.ndarray:
    from PIL import Image

    data = base64.b64decode(uri.split(",", 1)[1])
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.int16)


def _png_colour_type(uri: str) -> int:
    return base64.b64decode(uri.split(",", 1)[1])[25]


def test_palette_png_stays_within_the_declared_colour_error():
    rows = _cohort_rows([0.2, 0.5, 0.8], [2.0, 5.0, 3.0])
    args = dict(title="t", xlabel="OR", interval_label="pooled: HKSJ t(2), k = 3")
    full = figures.to_data_uri(figures._forest_figure(rows, _pooled(1.1, 0.3, 4.0, 3), **args))
    small = figures.to_data_uri(figures._forest_figure(rows, _pooled(1.1, 0.3, 4.0, 3), **args),
                                palette=True)
    assert _png_colour_type(full) == 6  # RGBA, as matplotlib writes it
    assert _png_colour_type(small) == 3  # palette
    assert _png_size(small)[:2] == _png_size(full)[:2]
    assert np.abs(_decode(small) - _decode(full)).max() <= figures.PALETTE_MAX_ERROR
    assert _png_size(small)[2] < 0.6 * _png_size(full)[2]


def test_palette_png_falls_back_to_full_colour_for_gradients():
    plt = figures._plt()
    fig, ax = plt.subplots(figsize=(3, 3))
    ax.imshow(np.random.default_rng(0).uniform(size=(120, 120, 3)))
    uri = figures.to_data_uri(fig, palette=True)
    assert _png_colour_type(uri) == 6  # matplotlib's RGBA PNG kept


def test_forest_row_without_interval_draws_no_line_and_no_arrow():
    rows = _cohort_rows([0.5, np.nan], [2.0, np.nan], effects=[1.0, 1.3])
    fig = figures._forest_figure(rows, _pooled(1.1, 0.7, np.inf), title="t", xlabel="OR")
    ax = fig.axes[0]
    arrows = [(line.get_marker(), line.get_ydata()[0]) for line in ax.get_lines()
              if line.get_gid() == "clip-arrow"]
    texts = {t.get_position()[1]: t.get_text() for t in ax.texts if t.get_gid() == "interval-text"}
    segments = [line for line in ax.get_lines() if len(line.get_xdata()) == 2
                and line.get_ydata()[0] == 1 and line.get_gid() is None]
    matplotlib.pyplot.close(fig)
    assert arrows == [(">", 0)]
    assert texts == {0: "1.10 (0.70–>9999) →", 1: "1.30 (NA–NA)", 2: "1.00 (0.50–2.00)"}
    assert segments == []
