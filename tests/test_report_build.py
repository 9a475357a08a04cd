"""Report plumbing: the staged folder replaces the old report whole; figures become PNG files."""

from __future__ import annotations

import base64

import pandas as pd
import pytest

from her2atlas.report.build import swap_in
from her2atlas.report.figure_store import FigureStore, safe_name
from her2atlas.report.tables import to_table

PNG = b"\x89PNG\r\n\x1a\n" + b"rest-of-file"


def _uri(payload: bytes = PNG) -> str:
    return "data:image/png;base64," + base64.b64encode(payload).decode()


def test_swap_leaves_only_the_new_pages(tmp_path):
    target, staging = tmp_path / "report", tmp_path / ".report.staging"
    (target / "figures").mkdir(parents=True)
    (target / "cohort_old_run.html").write_text("old")
    (target / "figures" / "old.png").write_bytes(PNG)
    staging.mkdir()
    (staging / "index.html").write_text("new")
    swap_in(staging, target)
    assert sorted(p.name for p in target.rglob("*")) == ["index.html"]
    assert (target / "index.html").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]  # no staging or old left


def test_swap_into_a_missing_folder(tmp_path):
    staging = tmp_path / ".staging"
    staging.mkdir()
    (staging / "index.html").write_text("first")
    swap_in(staging, tmp_path / "report")
    assert (tmp_path / "report" / "index.html").read_text() == "first"


def test_figures_are_written_as_files_and_named_in_the_page(tmp_path):
    store = FigureStore()
    fig = store.add("forest SIG/1", _uri, alt="a forest", caption="c")
    assert fig == {"src": "figures/forest_SIG_1.png", "alt": "a forest", "caption": "c"}
    written = store.save(tmp_path / "figures")
    assert [p.name for p in written] == ["forest_SIG_1.png"]
    assert written[0].read_bytes() == PNG
    with pytest.raises(ValueError, match="added twice"):
        store.add("forest SIG/1", _uri, alt="", caption="")
    assert safe_name("a b:c") == "a_b_c"


def test_empty_columns_are_dropped_and_named():
    frame = pd.DataFrame({"cohort": ["a", "b"], "note": ["", ""], "p": [float("nan")] * 2,
                          "n": [3, 4]})
    table = to_table(frame)
    assert table.columns == ["cohort", "n"] and table.dropped == ["note", "p"]
    assert [c["text"] for c in table.rows[1]] == ["b", "4"]
    kept = to_table(frame, drop_empty=False)
    assert kept.columns == ["cohort", "note", "p", "n"] and kept.dropped == []


def test_comma_lists_wrap():
    table = to_table(pd.DataFrame({"cohorts": ["a,b,c"], "note": ["x,y"]}))
    assert [c["text"] for c in table.rows[0]] == ["a, b, c", "x,y"]


def test_a_cohort_without_estimates_says_why():
    from her2atlas.report.cohort_page import contribution

    rows = pd.DataFrame({"pooled": [True, True, False], "effect": [0.5, float("nan"), 0.7],
                         "note": ["", "too few events (3 < 5)", ""]})
    assert contribution(rows, {"her2_positive": 30}) == (1, "")
    none = rows.iloc[1:]
    assert contribution(none, {"her2_positive": 30}) == (0, "too few events (3 < 5)")
    assert contribution(none.iloc[:0], {"her2_positive": 30})[1].startswith(
        "no analysable endpoint")
    assert contribution(none.iloc[:0], {"her2_positive": 0})[1].startswith(
        "no HER2+ samples mapped")
    # the cohort stage's own reason wins when the cohort gives no estimate, never otherwise
    reason = "too few events in every HER2+ subgroup (pCR 2 < 5)"
    assert contribution(none, {"her2_positive": 30}, reason) == (0, reason)
    assert contribution(rows, {"her2_positive": 30}, reason) == (1, "")


def test_heatmap_columns_grouped_by_design_with_pooled_last():
    from her2atlas.report.plots import drop_empty_columns, heatmap_layout, heatmap_table

    def row(cohort, effect):
        return {"cohort": cohort, "signature": "S", "question": "within_trastuzumab",
                "era": "trastuzumab", "endpoint": "pcr", "model": "logistic",
                "method": "zmean", "pooled": True, "log_effect": effect,
                "effect": 2.0 ** effect, "p": 0.5, "q": 0.5}

    per_cohort = pd.DataFrame([row("a_treated", 0.1), row("b_random", 0.2),
                               row("c_treated", float("nan")), row("d_random", 0.3)])
    meta = pd.DataFrame([{**row("pooled", 0.15), "cohort": None}]).drop(columns=["cohort"])
    designs = {"a_treated": "trastuzumab_treated", "c_treated": "trastuzumab_treated",
               "b_random": "randomised_trastuzumab", "d_random": "randomised_trastuzumab"}
    values, marks, long = heatmap_table(per_cohort, meta, method="zmean", model="logistic",
                                        signatures=["S"], question="within_trastuzumab",
                                        designs=designs)
    assert list(values.columns) == ["b_random", "d_random", "a_treated", "c_treated", "pooled"]
    assert heatmap_layout(list(values.columns), long, designs) == (1, [2])
    values, marks, empty = drop_empty_columns(values, marks)
    assert empty == ["c_treated"] and list(values.columns)[-1] == "pooled"
    assert values.loc["S", "pooled"] == pytest.approx(0.15)


def test_forest_label_names_the_interval_of_the_rows():
    from her2atlas.report.plots import interval_label, interval_rules

    pooled = pd.DataFrame({"effect": [1.5, 1.2], "k": [2, 2],
                           "interval": ["HKSJ t(1), DL τ²", "HKSJ t(1), DL τ²"]})
    assert interval_label(pooled) == "pooled 95% CI: HKSJ t(1), DL τ²; k = 2"
    other = pooled.assign(interval=["DL normal", "DL normal"], k=[5, 5])
    assert interval_label(other) == "pooled 95% CI: DL normal; k = 5"
    none = pd.DataFrame({"effect": [float("nan")], "k": [1], "interval": [""]})
    assert (interval_rules(none), interval_label(none)) == ([], "not pooled (k = 1)")
