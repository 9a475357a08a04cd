"""The evidence summary: verdicts computed from the tables by the stated rule.

Tables are built by hand; a second set with every effect on the other side of 1 must turn the
words from 'supports' into 'against', in the table and in the rendered HTML.
"""

from __future__ import annotations

from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

from her2atlas.report.evidence import (
    AGAINST,
    INCONCLUSIVE,
    SUPPORTS,
    EvidenceRule,
    evidence_table,
    interval_verdict,
    within_trastuzumab_null,
)

RULE = EvidenceRule(expect_pcr="below_1", null_percentile=95, min_methods=2, method="zmean")
COHORTS = ("a", "b", "c")


def _meta_row(signature, method, question, model, effect, low, high, *, k=3,
              endpoint="pcr", endpoints="pcr", i2=12.0):
    return {"signature": signature, "method": method, "question": question, "era": "trastuzumab",
            "model": model, "endpoint": endpoint, "endpoints": endpoints, "effect": effect,
            "ci_low": low, "ci_high": high, "k": k, "n_total": 300, "i2": i2,
            "p": 0.01, "interval": f"HKSJ t({k - 1}), DL τ²", "cohorts": "a,b,c",
            "stratum": "s", "effect_type": "OR per SD"}


def _tables(flip: bool) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Meta, per-cohort and null tables; ``flip`` puts every effect on the other side of 1."""
    def r(x):  # the ratio on the other side of 1 when flipped
        return 1 / x if flip else x

    meta = pd.DataFrame([
        _meta_row("SIG", "zmean", "within_trastuzumab", "logistic", r(0.5), r(0.71), r(0.35))
        if flip else
        _meta_row("SIG", "zmean", "within_trastuzumab", "logistic", 0.5, 0.35, 0.71),
        _meta_row("SIG", "ssgsea", "within_trastuzumab", "logistic",
                  *((1.5, 1.1, 2.0) if flip else (0.6, 0.4, 0.9))),
        _meta_row("SIG", "zmean", "within_trastuzumab", "logistic_adj_controls",
                  *((1.7, 1.2, 2.4) if flip else (0.55, 0.4, 0.8))),
        # one randomised trial: not pooled, the cohort row stands in (k = 1)
        _meta_row("SIG", "zmean", "trastuzumab_interaction", "interaction", np.nan, np.nan,
                  np.nan, k=1),
        _meta_row("SIG", "zmean", "within_trastuzumab", "cox",
                  *((0.5, 0.3, 0.8) if flip else (2.0, 1.3, 3.1)), endpoint="overall",
                  endpoints="os,dss"),
    ])
    per_cohort = pd.DataFrame([
        {"cohort": "f", "subgroup": "HER2+ both arms", "signature": "SIG", "method": "zmean",
         "question": "trastuzumab_interaction", "model": "interaction", "endpoint": "pcr",
         "era": "trastuzumab", "pooled": True, "effect": 2.5 if flip else 0.4, "ci_low": 1.3 if flip else 0.2,
         "ci_high": 5.0 if flip else 0.77, "n": 250, "p": 0.004, "ci_method": "Wald"},
        *[{"cohort": c, "subgroup": "HER2+ treated", "signature": "SIG", "method": "zmean",
           "question": "within_trastuzumab", "model": "logistic", "endpoint": "pcr",
           "era": "trastuzumab", "pooled": True, "effect": 0.5, "ci_low": 0.3, "ci_high": 0.8,
           "n": 100, "p": 0.01, "ci_method": "Wald"} for c in COHORTS],
        {"cohort": "u", "subgroup": "HER2+ untreated", "signature": "SIG", "method": "zmean",
         "question": "within_untreated_arm", "model": "logistic", "endpoint": "pcr",
         "era": "trastuzumab", "pooled": True, "effect": 1.0, "ci_low": 0.5, "ci_high": 2.0,
         "n": 80, "p": 0.9, "ci_method": "Wald"},
    ])
    # AUC − 0.5 below 0 is less pCR; p 0.002, 0.01, 0.03 → percentiles 99.8, 99, 97
    null = pd.DataFrame([{"cohort": c, "subgroup": "HER2+ treated", "signature": "SIG",
                          "method": "zmean", "endpoint": "pcr",
                          "observed": (0.15 if flip else -0.15), "p_empirical": p}
                         for c, p in zip(COHORTS, (0.002, 0.01, 0.03), strict=True)])
    return meta, per_cohort, null


def _cells(flip: bool) -> dict[str, dict]:
    meta, per_cohort, null = _tables(flip)
    table, _ = evidence_table(meta, per_cohort, null, {"SIG": "hypothesis"}, RULE)
    return {row["column"]: row for row in table.to_dict("records")}


@pytest.mark.parametrize(("low", "high", "expect", "verdict"), [
    (0.3, 0.9, "below_1", SUPPORTS), (1.1, 2.0, "below_1", AGAINST),
    (0.5, 1.2, "below_1", INCONCLUSIVE), (1.1, 2.0, "above_1", SUPPORTS),
    (0.3, 0.9, "above_1", AGAINST), (np.nan, np.nan, "below_1", INCONCLUSIVE),
    (0.5, 1.0, "below_1", INCONCLUSIVE),  # touching 1 is not clear of it
])
def test_interval_verdict(low, high, expect, verdict):
    assert interval_verdict(low, high, expect) == verdict


def test_cells_carry_the_numbers_of_their_rows():
    cells = _cells(flip=False)
    pcr = cells["pcr"]
    assert (pcr["estimate"], pcr["ci_low"], pcr["ci_high"], pcr["k"], pcr["n"], pcr["i2"]) == \
        (0.5, 0.35, 0.71, 3, 300, 12.0)
    assert pcr["value"] == "0.5 (0.35–0.71); k = 3, n = 300, I² = 12%"
    assert pcr["interval"] == "HKSJ t(2), DL τ²"
    # the interaction was not pooled: the one trial's estimate, k = 1
    inter = cells["interaction"]
    assert (inter["estimate"], inter["k"], inter["n"], inter["cohorts"]) == (0.4, 1, 250, "f")
    assert (inter["interval"], inter["source"]) == ("Wald 95% CI of one cohort, not pooled",
                                                    "stats")
    assert pcr["source"] == "meta"
    assert cells["null"]["estimate"] == pytest.approx(99.0)  # median of 99.8, 99, 97
    assert cells["null"]["value"] == ("median percentile 99.0; k = 3 (3/3 hypothesised "
                                      "direction)")
    assert cells["methods"]["value"] == ("2/2 point the hypothesised way, 2 clear of 1 "
                                         "(zmean, ssgsea)")
    assert list(cells) == ["pcr", "interaction", "survival:within_trastuzumab:trastuzumab:overall",
                           "null", "methods", "adjusted"]


def test_words_flip_with_the_numbers():
    supports = {c: cell["verdict"] for c, cell in _cells(flip=False).items()}
    against = {c: cell["verdict"] for c, cell in _cells(flip=True).items()}
    assert set(supports.values()) == {SUPPORTS}
    assert set(against.values()) == {AGAINST}
    tones = {c: cell["tone"] for c, cell in _cells(flip=True).items()}
    assert set(tones.values()) == {"opp-strong"}


def test_survival_expects_hazard_ratios_on_the_other_side():
    cells = _cells(flip=False)
    surv = cells["survival:within_trastuzumab:trastuzumab:overall"]
    assert (surv["estimate"], surv["verdict"]) == (2.0, SUPPORTS)
    assert "survival" in surv["label"] and "(HR)" in surv["label"]
    rule = EvidenceRule(expect_pcr="above_1")
    assert (rule.expect("cox"), rule.expect("logistic"), rule.expect("interaction")) == \
        ("below_1", "above_1", "above_1")


def test_weak_evidence_is_inconclusive_and_shaded_by_direction():
    meta, per_cohort, null = _tables(flip=False)
    meta.loc[0, ["effect", "ci_low", "ci_high"]] = [0.8, 0.5, 1.3]
    null["p_empirical"] = 0.5  # percentile 50, below 95
    table, _ = evidence_table(meta, per_cohort, null, {"SIG": "hypothesis"}, RULE)
    cells = table.set_index("column")
    assert cells.loc["pcr", "verdict"] == INCONCLUSIVE
    assert cells.loc["pcr", "tone"] == "sup-weak"
    assert cells.loc["null", "verdict"] == INCONCLUSIVE


def test_methods_need_the_minimum_of_clear_intervals():
    meta, per_cohort, null = _tables(flip=False)
    one = meta[meta["method"] != "ssgsea"]
    table, _ = evidence_table(one, per_cohort, null, {"SIG": "hypothesis"}, RULE)
    assert table.set_index("column").loc["methods", "verdict"] == INCONCLUSIVE  # 1 < 2 methods

    def methods(low, high, effect):
        meta.loc[1, ["effect", "ci_low", "ci_high"]] = [effect, low, high]  # the ssgsea row
        table, _ = evidence_table(meta, per_cohort, null, {"SIG": "hypothesis"}, RULE)
        row = table.set_index("column").loc["methods"]
        return row["verdict"], row["value"]

    # both point the hypothesised way but only one interval is clear of 1: direction alone
    # decides nothing
    assert methods(0.6, 1.2, 0.85) == (
        INCONCLUSIVE, "2/2 point the hypothesised way, 1 clear of 1 (zmean, ssgsea)")
    assert methods(1.1, 2.1, 1.4) == (
        INCONCLUSIVE, "1/2 point the hypothesised way, 1 clear of 1, 1 clear the other way "
                      "(zmean, ssgsea)")


def test_controls_form_their_own_block_and_primary_comes_first():
    meta, per_cohort, null = _tables(flip=False)
    other = meta.assign(signature="CTRL")
    table, behind = evidence_table(pd.concat([meta, other], ignore_index=True), per_cohort, null,
                                   {"CTRL": "control", "ZED": "hypothesis", "SIG": "hypothesis"},
                                   RULE, first="SIG")
    firsts = table.drop_duplicates("signature")
    assert list(firsts["signature"]) == ["SIG", "ZED", "CTRL"]
    assert list(firsts["block"]) == ["hypothesis", "hypothesis", "control"]
    assert len(behind[("SIG", "pcr")]) == 3  # the three treated cohorts' rows


def test_a_signature_without_the_rule_method_uses_its_own():
    meta, per_cohort, null = _tables(flip=False)
    weights = meta[meta["method"] == "zmean"].assign(signature="W", method="mrnasi")
    table, _ = evidence_table(weights, per_cohort.iloc[:0], null.iloc[:0], {"W": "hypothesis"},
                              RULE)
    pcr = table.set_index("column").loc["pcr"]
    assert (pcr["method"], pcr["estimate"], pcr["verdict"]) == ("mrnasi", 0.5, SUPPORTS)


def test_survival_strata_of_two_eras_keep_their_own_cohort():
    """Not pooled in either era: each column shows its own era's one cohort, never the other's."""
    def meta_row(era):
        row = _meta_row("SIG", "zmean", "prognosis", "cox", np.nan, np.nan, np.nan, k=1,
                        endpoint="overall", endpoints="os")
        return {**row, "era": era}

    def cohort_row(cohort, era, effect):
        return {"cohort": cohort, "subgroup": "HER2+", "signature": "SIG", "method": "zmean",
                "question": "prognosis", "era": era, "model": "cox", "endpoint": "os",
                "pooled": True, "effect": effect, "ci_low": effect / 2, "ci_high": effect * 2,
                "n": 40, "p": 0.5, "ci_method": "Wald"}

    meta = pd.DataFrame([meta_row("mixed"), meta_row("trastuzumab")])
    per_cohort = pd.DataFrame([cohort_row("tcga", "mixed", 0.65),
                               cohort_row("scanb", "trastuzumab", 1.0)])
    table, behind = evidence_table(meta, per_cohort, pd.DataFrame(), {"SIG": "hypothesis"}, RULE)
    cells = table.set_index("column")
    assert cells.loc["survival:prognosis:mixed:overall", ["estimate", "cohorts"]].tolist() == \
        [0.65, "tcga"]
    assert cells.loc["survival:prognosis:trastuzumab:overall", ["estimate", "cohorts"]
                     ].tolist() == [1.0, "scanb"]
    assert list(behind[("SIG", "survival:prognosis:mixed:overall")]["cohort"]) == ["tcga"]


def test_null_keeps_only_within_trastuzumab_subgroups():
    _, per_cohort, null = _tables(flip=False)
    extra = null.iloc[:1].assign(cohort="u", subgroup="HER2+ untreated", p_empirical=0.9)
    kept = within_trastuzumab_null(pd.concat([null, extra], ignore_index=True), per_cohort)
    assert sorted(kept["cohort"]) == list(COHORTS)


def test_rule_comes_from_the_config_and_is_written_out():
    rule = EvidenceRule.from_config(
        {"report": {"evidence": {"expect_pcr": "above_1", "null_percentile": 90,
                                 "min_methods": 3}}}, "ssgsea")
    assert rule == EvidenceRule("above_1", 90.0, 3, "ssgsea")
    text = rule.text()
    assert "pCR odds ratios and interaction ratios above 1, hazard ratios below 1" in text
    assert "≥ 90" in text and "at least 3 methods" in text and "ssgsea score" in text


class _Verdicts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.verdicts: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "td" and "data-verdict" in attrs:
            self.verdicts[attrs["data-column"]] = attrs["data-verdict"]


def _render(flip: bool) -> str:
    import jinja2

    from her2atlas.report.index_page import evidence_view

    meta, per_cohort, null = _tables(flip)
    table, _ = evidence_table(meta, per_cohort, null, {"SIG": "hypothesis"}, RULE)
    env = jinja2.Environment(loader=jinja2.PackageLoader("her2atlas", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    template = env.from_string('{% from "macros.html" import evidence_table %}'
                               '{{ evidence_table(ev, "SIG") }}')
    return template.render(ev=evidence_view(table, {"SIG"}))


def test_rendered_words_flip():
    html = {flip: _render(flip) for flip in (False, True)}
    parsed = {}
    for flip, text in html.items():
        parser = _Verdicts()
        parser.feed(text)
        parsed[flip] = parser.verdicts
    assert set(parsed[False].values()) == {SUPPORTS} and len(parsed[False]) == 6
    assert set(parsed[True].values()) == {AGAINST} and len(parsed[True]) == 6
    assert ">supports<" in html[False] and ">against<" not in html[False]
    assert ">against<" in html[True] and ">supports<" not in html[True]
    assert 'href="signature_SIG.html#ev-pcr"' in html[False]
