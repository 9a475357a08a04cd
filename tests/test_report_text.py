"""The report's sentences are computed from the numbers: opposite tables give opposite words."""

from __future__ import annotations

import pandas as pd

from her2atlas.report import primary_summary

PRIMARY = {"signature": "SIG", "method": "zmean", "endpoint": "pcr", "model": "logistic",
           "expect": "below_1", "statement": "A higher score goes with less pCR."}


def _meta(effect: float, low: float, high: float, p: float, k: int = 3,
          q_below_1: bool = False) -> pd.DataFrame:
    return pd.DataFrame([{
        "analysis": "primary", "question": "within_trastuzumab", "era": "trastuzumab",
        "signature": "SIG", "method": "zmean", "endpoint": "pcr", "model": "logistic",
        "effect_type": "OR per SD", "effect": effect, "ci_low": low, "ci_high": high,
        "interval": f"HKSJ t({k - 1}), DL τ²", "p": p, "q": p, "k": k, "cohorts": "a,b,c"[:2 * k - 1],
        "n_total": 300, "events_total": 100, "i2": 10.0, "tau2_dl": 0.01,
        "direction": "higher score → " + ("less pCR" if effect < 1 else "more pCR"),
        "cohort_effects": "a: 0.5 (0.3–0.9); b: 0.6 (0.4–0.95)", "hksj_q": 0.5 if q_below_1 else 1.2,
        "hksj_q_below_1": q_below_1, "dl_ci_low": low * 1.05, "dl_ci_high": high * 0.95}])


def _sentence(meta: pd.DataFrame) -> str:
    return primary_summary(PRIMARY, meta, meta.iloc[:0], pd.DataFrame())["sentence"]


def test_the_verdict_words_follow_the_numbers():
    supports = _sentence(_meta(0.5, 0.35, 0.71, 0.001))
    assert "points in the hypothesised direction and its 95% CI excludes 1." in supports
    against = _sentence(_meta(1.8, 1.3, 2.5, 0.002))
    assert "points against the hypothesised direction and its 95% CI excludes 1." in against
    unclear = _sentence(_meta(0.8, 0.5, 1.3, 0.3))
    assert "points in the hypothesised direction, but its 95% CI includes 1." in unclear
    assert "fragile" not in supports and "HKSJ q" not in supports


def test_two_cohorts_and_q_below_one_are_said_with_the_numbers():
    text = _sentence(_meta(0.5, 0.0123, 20.4, 0.3, k=2, q_below_1=True))
    assert "95% CI 0.0123–20.4" in text  # never rounded to 0.00
    assert ("A random-effects interval from two cohorts is fragile; the two cohort estimates "
            "are a: 0.5 (0.3–0.9); b: 0.6 (0.4–0.95).") in text
    assert "HKSJ q = 0.5 < 1" in text and "the DL normal interval is 0.0129–19.4." in text


def test_no_pooled_row_says_so_without_a_verdict():
    empty = _meta(0.5, 0.3, 0.7, 0.01).iloc[:0]
    text = _sentence(empty)
    assert text.endswith("not pooled (no pooled row).")
    assert "hypothesised direction" not in text
