"""Meta-analysis: pooled numbers pinned to R metafor 3.8-1, and evidence-strata bookkeeping.

Reference numbers were printed by R 4.2 / metafor 3.8-1 (Debian r-cran-metafor) and are pinned
here; R is never called at test time. Common R preamble::

    library(metafor); options(digits = 15)
    dat <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
    kh <- rma(yi, vi, data = d, method = "DL", test = "knha")   # reported: estimate, HKSJ CI, p
    z  <- rma(yi, vi, data = d, method = "DL")                  # DL normal interval, tau2, I2, Q
    pm <- rma(yi, vi, data = d, method = "PM",                  # Paule-Mandel, root found to
              control = list(tol = 1e-15, maxiter = 10000))     # 1e-15 (default tol is 1e-4)
    fe <- rma(yi, vi, data = d, method = "FE")                  # fixed effect
    kh$s2w                                                      # HKSJ scale factor q
    z$b + c(-1, 1) * qt(0.975, k - 2) * sqrt(z$tau2 + z$se^2)   # prediction interval (Higgins)
    leave1out(z)$estimate                                       # leave-one-out estimates
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from her2atlas.meta import (
    COMPARE_COLUMNS,
    META_COLUMNS,
    compare_models,
    dersimonian_laird,
    hksj,
    paule_mandel,
    pool,
    pool_estimates,
)

TOL = 1e-6

# dat.bcg (metafor): tpos, tneg, cpos, cneg for the 13 BCG trials
BCG = np.array([
    [4, 119, 11, 128], [6, 300, 29, 274], [3, 228, 11, 209], [62, 13536, 248, 12619],
    [33, 5036, 47, 5761], [180, 1361, 372, 1079], [8, 2537, 10, 619], [505, 87886, 499, 87892],
    [29, 7470, 45, 7232], [17, 1699, 65, 1600], [186, 50448, 141, 27197], [5, 2493, 3, 2338],
    [27, 16886, 29, 17825]], float)


def _bcg(rows: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """escalc(measure = "RR") yi, vi for the chosen trials (0-based rows)."""
    a, b, c, d = BCG.T
    y = np.log((a / (a + b)) / (c / (c + d)))
    v = 1 / a - 1 / (a + b) + 1 / c - 1 / (c + d)
    idx = slice(None) if rows is None else rows
    return y[idx], v[idx]


# name: (yi, vi, reference numbers printed by R)
CASES = {
    # d <- dat (13 trials)
    "bcg13": (*_bcg(), {
        "b": -0.714117222073227, "se_knha": 0.180696628335547,
        "knha_lb": -1.10782135416833, "knha_ub": -0.320413089978125,
        "knha_p": 0.00192076676704736, "s2w": 1.02198950693277,
        "tau2": 0.308760262862376, "I2": 92.1173468545621, "QE": 152.233008082373,
        "QEp": 1.99676459084597e-26, "se_z": 0.178742089535403,
        "z_lb": -1.06444528008405, "z_ub": -0.363789164062403, "z_p": 6.462924304704e-05,
        "pm_tau2": 0.318068452205024, "pm_b": -0.714968153493444,
        "pm_lb": -1.06951033399171, "pm_ub": -0.360425972995181, "pm_p": 7.73536460790276e-05,
        "fe_b": -0.430285163654091, "fe_lb": -0.509661258426214, "fe_ub": -0.350909068881968,
        "pi_lb": -1.99883849575212, "pi_ub": 0.570604051605664,
        "loo": [-0.705125198417451, -0.654515875087971, -0.684841748704594, -0.618696870715275,
                -0.764035701741509, -0.712727336606213, -0.655693949355322, -0.790086599853701,
                -0.739263356536315, -0.652585204582533, -0.760694174161193, -0.760012818299681,
                -0.778923740057073]}),
    # d <- dat[1:2, ]  (k = 2, tau2 = 0)
    "bcg_k2": (*_bcg([0, 1]), {
        "b": -1.32500344224488, "se_knha": 0.336820105220864,
        "knha_lb": -5.60470865844108, "knha_ub": 2.95470177395133, "knha_p": 0.15847419284587,
        "s2w": 0.931479077449156, "tau2": 0.0, "I2": 0.0, "QE": 0.931479077449156,
        "QEp": 0.334478882442814, "se_z": 0.348988772287383,
        "z_lb": -2.009008866937, "z_ub": -0.640998017552754, "z_p": 0.000146638843311682,
        "pm_tau2": 0.0, "pm_b": -1.32500344224488, "pm_lb": -2.009008866937,
        "pm_ub": -0.640998017552754, "pm_p": 0.000146638843311682,
        "fe_b": -1.32500344224488, "fe_lb": -2.009008866937, "fe_ub": -0.640998017552754}),
    # d <- dat[c(4, 8), ]  (k = 2, tau2 > 0: DL makes q exactly 1)
    "bcg_k2_het": (*_bcg([3, 7]), {
        "b": -0.709278818100748, "se_knha": 0.72673079341881,
        "knha_lb": -9.94326906736283, "knha_ub": 8.52471143116133, "knha_p": 0.507736525943498,
        "s2w": 1.0, "tau2": 1.04435044087904, "I2": 98.8653418227403, "QE": 88.1322692632525,
        "QEp": 6.1220694565995e-21, "se_z": 0.72673079341881,
        "z_lb": -2.13364499965783, "z_ub": 0.715087363456337, "z_p": 0.32907158082378,
        "pm_tau2": 1.04435044087904, "pm_b": -0.709278818100748, "pm_lb": -2.13364499965783,
        "pm_ub": 0.715087363456337, "pm_p": 0.32907158082378}),
    # d <- dat[c(1, 4, 7), ]  (k = 3, q = 0.53 < 1, HKSJ interval still wider than DL's)
    "bcg_k3": (*_bcg([0, 3, 6]), {
        "b": -1.42604695453122, "se_knha": 0.0963019483710908,
        "knha_lb": -1.84040079557029, "knha_ub": -1.01169311349216,
        "knha_p": 0.00452943479891125, "s2w": 0.533539642836437, "tau2": 0.0, "I2": 0.0,
        "QE": 1.06707928567287, "QEp": 0.586525201304019, "se_z": 0.13184137598122,
        "z_lb": -1.68445130312662, "z_ub": -1.16764260593583, "z_p": 2.87913604909028e-27,
        "pm_tau2": 0.0, "pm_b": -1.42604695453122, "pm_lb": -1.68445130312662,
        "pm_ub": -1.16764260593583, "pm_p": 2.87913604909028e-27,
        "pi_lb": -3.10125047044758, "pi_ub": 0.249156561385139,
        "loo": [-1.45631800908462, -1.32349411140816, -1.40957635348673]}),
    # d <- data.frame(yi = c(0.10, 0.12, 0.11), vi = c(0.04, 0.05, 0.06))  (q = 0.0022)
    "homog_k3": (np.array([0.10, 0.12, 0.11]), np.array([0.04, 0.05, 0.06]), {
        "b": 0.109189189189189, "se_knha": 0.00601313390845594,
        "knha_lb": 0.0833167621636222, "knha_ub": 0.135061616214756,
        "knha_p": 0.00301906354141384, "s2w": 0.00222972972972973, "tau2": 0.0, "I2": 0.0,
        "QE": 0.00445945945945946, "QEp": 0.997772754271044, "se_z": 0.127342907993403,
        "z_lb": -0.140398324164478, "z_ub": 0.358776702542856, "z_p": 0.391200519497596,
        "pm_tau2": 0.0, "pm_b": 0.109189189189189, "pm_lb": -0.140398324164478,
        "pm_ub": 0.358776702542856, "pm_p": 0.391200519497596,
        "pi_lb": -1.50885587147484, "pi_ub": 1.72723424985322,
        "loo": [0.115454545454545, 0.104, 0.108888888888889]}),
}


def _approx(x: float) -> object:
    return pytest.approx(x, rel=TOL, abs=TOL * 1e-3)


@pytest.mark.parametrize("name", sorted(CASES))
def test_dl_hksj_pm_match_metafor(name):
    y, v, ref = CASES[name]
    res = pool_estimates(y, v)
    dl, hk, pm = res["dl"], res["hksj"], res["pm"]
    assert dl["estimate"] == _approx(ref["b"])
    assert hk["se"] == _approx(ref["se_knha"])
    assert hk["ci_low"] == _approx(ref["knha_lb"])
    assert hk["ci_high"] == _approx(ref["knha_ub"])
    assert hk["p"] == _approx(ref["knha_p"])
    assert hk["scale"] == _approx(ref["s2w"])
    assert dl["tau2"] == _approx(ref["tau2"])
    assert dl["i2"] == _approx(ref["I2"])
    assert dl["q"] == _approx(ref["QE"])
    assert dl["q_p"] == _approx(ref["QEp"])
    assert dl["se"] == _approx(ref["se_z"])
    assert dl["ci_low"] == _approx(ref["z_lb"])
    assert dl["ci_high"] == _approx(ref["z_ub"])
    assert dl["p"] == _approx(ref["z_p"])
    assert res["tau2_pm"] == _approx(ref["pm_tau2"])
    assert pm["estimate"] == _approx(ref["pm_b"])
    assert pm["ci_low"] == _approx(ref["pm_lb"])
    assert pm["ci_high"] == _approx(ref["pm_ub"])
    assert pm["p"] == _approx(ref["pm_p"])


@pytest.mark.parametrize("name", ["bcg13", "bcg_k2"])
def test_fixed_effect_matches_metafor(name):
    y, v, ref = CASES[name]
    dl = dersimonian_laird(y, v)
    assert dl["fixed"] == _approx(ref["fe_b"])
    assert dl["fixed"] - 1.959963984540054 * dl["fixed_se"] == _approx(ref["fe_lb"])
    assert dl["fixed"] + 1.959963984540054 * dl["fixed_se"] == _approx(ref["fe_ub"])


@pytest.mark.parametrize("name", ["bcg13", "bcg_k3", "homog_k3"])
def test_prediction_interval_and_leave_one_out_match_metafor(name):
    y, v, ref = CASES[name]
    res = pool_estimates(y, v)
    assert res["pi"][0] == _approx(ref["pi_lb"])
    assert res["pi"][1] == _approx(ref["pi_ub"])
    np.testing.assert_allclose(res["loo"], ref["loo"], rtol=TOL)


def test_k2_has_no_prediction_interval_or_leave_one_out():
    y, v, _ = CASES["bcg_k2"]
    res = pool_estimates(y, v)
    assert np.isnan(res["pi"][0]) and np.isnan(res["pi"][1])
    assert len(res["loo"]) == 0


def test_truncated_hksj_uses_max_one_q():
    y, v, ref = CASES["bcg_k3"]  # q = 0.534 → truncated SE is the DL normal SE
    res = hksj(y, v, 0.0, truncate=True)
    assert res["scale"] == _approx(ref["s2w"])
    assert res["se"] == _approx(ref["se_z"])
    assert res["ci_high"] - res["estimate"] == _approx(4.302652729749464 * ref["se_z"])


def test_paule_mandel_zero_when_q_below_k_minus_1():
    y, v, _ = CASES["homog_k3"]
    assert paule_mandel(y, v) == 0.0


# ---------------------------------------------------------------- per-cohort tables

def _row(cohort: str, y: float, se: float, *, question: str = "within_trastuzumab",
         era: str = "trastuzumab", endpoint: str = "pcr", signature: str = "SIG",
         method: str = "zmean", model: str = "logistic", pooled: bool = True,
         subgroup: str = "all") -> dict:
    return {"analysis": "exploratory", "cohort": cohort, "design": "x", "question": question,
            "era": era, "stratum": f"{question} ({era})", "subgroup": subgroup,
            "signature": signature, "role": "hypothesis", "method": method,
            "endpoint": endpoint, "model": model, "n": 50, "events": 20,
            "effect_type": "OR per SD", "effect": np.exp(y), "log_effect": y, "se": se,
            "pooled": pooled, "note": ""}


def _table(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows)


def test_pool_reports_dl_estimate_with_hksj_interval_for_bcg():
    y, v, ref = CASES["bcg13"]
    tables = [_table([_row(f"c{i:02d}", yi, np.sqrt(vi))]) for i, (yi, vi) in
              enumerate(zip(y, v, strict=True))]
    out = pool(tables)
    assert list(out.columns) == META_COLUMNS
    row = out.iloc[0]
    assert row["k"] == 13
    assert row["log_effect"] == _approx(ref["b"])
    assert row["effect"] == _approx(np.exp(ref["b"]))
    assert row["ci_low"] == _approx(np.exp(ref["knha_lb"]))
    assert row["ci_high"] == _approx(np.exp(ref["knha_ub"]))
    assert row["p"] == _approx(ref["knha_p"])
    assert row["se"] == _approx(ref["se_knha"])
    assert row["dl_ci_low"] == _approx(np.exp(ref["z_lb"]))
    assert row["dl_ci_high"] == _approx(np.exp(ref["z_ub"]))
    assert row["dl_p"] == _approx(ref["z_p"])
    assert row["pm_p"] == _approx(ref["pm_p"])
    assert row["pi_low"] == _approx(np.exp(ref["pi_lb"]))
    assert row["loo_min"] == _approx(np.exp(min(ref["loo"])))
    assert row["loo_max"] == _approx(np.exp(max(ref["loo"])))
    assert row["hksj_q"] == _approx(ref["s2w"])
    assert not row["hksj_q_below_1"]
    assert row["interval"] == "HKSJ t(12), DL τ²"
    assert row["note"] == ""
    assert row["analysis"] == "exploratory"


def test_k2_row_says_fragile_and_lists_both_cohorts():
    y, v, ref = CASES["bcg_k2"]
    out = pool([_table([_row("a", y[0], np.sqrt(v[0]))]),
                _table([_row("b", y[1], np.sqrt(v[1]))])])
    row = out.iloc[0]
    assert row["interval"] == "HKSJ t(1), DL τ²"
    assert row["ci_low"] == _approx(np.exp(ref["knha_lb"]))
    assert "random-effects interval from two cohorts is fragile" in row["note"]
    lo, hi = np.exp(y - 1.959963984540054 * np.sqrt(v)), np.exp(y + 1.959963984540054 * np.sqrt(v))
    assert row["cohort_effects"] == (f"a: 0.41 ({lo[0]:.2f}–{hi[0]:.2f}); "
                                     f"b: 0.20 ({lo[1]:.3g}–{hi[1]:.2f})")
    assert row["cohorts"] == "a,b"


def test_q_below_one_flagged_and_note_says_whether_interval_is_narrower():
    y, v, ref = CASES["homog_k3"]  # q = 0.0022: HKSJ interval narrower than DL normal
    out = pool([_table([_row(f"c{i}", yi, np.sqrt(vi)) for i, (yi, vi) in
                        enumerate(zip(y, v, strict=True))])])
    row = out.iloc[0]
    assert bool(row["hksj_q_below_1"]) is True
    assert row["hksj_q"] == _approx(ref["s2w"])
    assert row["ci_high"] - row["ci_low"] < row["dl_ci_high"] - row["dl_ci_low"]
    assert row["note"] == ("HKSJ q = 0.00223 < 1: HKSJ SE below the DL normal SE; "
                           "HKSJ interval narrower than the DL normal interval")
    y, v, _ = CASES["bcg_k3"]  # q = 0.53: flagged, but t(2) keeps the interval wider
    out = pool([_table([_row(f"c{i}", yi, np.sqrt(vi)) for i, (yi, vi) in
                        enumerate(zip(y, v, strict=True))])])
    row = out.iloc[0]
    assert bool(row["hksj_q_below_1"]) is True
    assert row["note"] == ("HKSJ q = 0.534 < 1: HKSJ SE below the DL normal SE "
                           "(interval still wider: t quantile)")


def test_strata_never_pool_together():
    rows = []
    for q, era in [("within_trastuzumab", "trastuzumab"), ("prognosis", "trastuzumab"),
                   ("within_trastuzumab", "mixed"), ("trastuzumab_interaction", "trastuzumab")]:
        rows += [_row(f"{q}-{era}-{i}", 0.1 * i, 0.3, question=q, era=era) for i in range(3)]
    rows += [_row(f"surv{i}", 0.2, 0.3, endpoint=e, model="cox") for i, e in
             enumerate(["efs", "os", "os"])]
    out = pool([_table(rows)], endpoint_families={"pcr": ["pcr"], "event_free": ["efs"],
                                                  "overall": ["os"]})
    assert len(out) == 6
    for _, r in out[out["model"] == "logistic"].iterrows():
        assert r["k"] == 3
        assert set(r["cohorts"].split(",")) == {f"{r['question']}-{r['era']}-{i}"
                                                for i in range(3)}
    assert out.set_index("endpoint").loc["overall", "k"] == 2
    assert out.set_index("endpoint").loc["event_free", "k"] == 1
    assert out.set_index("endpoint").loc["event_free", "note"] == \
        "not pooled: 1 cohort(s) (minimum 2)"


def test_endpoint_family_takes_first_listed_endpoint_per_cohort():
    fams = {"event_free": ["efs", "rfs", "dmfs"], "overall": ["os"]}
    rows = [_row("a", 0.1, 0.2, endpoint="dmfs", model="cox"),
            _row("a", 0.9, 0.2, endpoint="rfs", model="cox"),   # a: rfs before dmfs
            _row("b", 0.3, 0.2, endpoint="dmfs", model="cox"),
            _row("c", np.nan, np.nan, endpoint="efs", model="cox"),  # c: efs not fitted
            _row("c", 0.5, 0.2, endpoint="dmfs", model="cox")]
    out = pool([_table(rows)], endpoint_families=fams)
    row = out.iloc[0]
    assert row["endpoint"] == "event_free"
    assert row["cohorts"] == "a,b,c"
    assert row["endpoints"] == "rfs,dmfs"
    y = np.array([0.9, 0.3, 0.5])
    assert row["log_effect"] == _approx(dersimonian_laird(y, np.full(3, 0.04))["estimate"])
    assert row["cohort_effects"].startswith("a [rfs]: 2.46 (")


def test_duplicate_cohort_in_a_group_raises_naming_it():
    rows = [_row("dup", 0.1, 0.2, subgroup="all"), _row("dup", 0.2, 0.2, subgroup="ER+"),
            _row("other", 0.1, 0.2)]
    with pytest.raises(ValueError, match="cohort 'dup' has 2 pooled rows"):
        pool([_table(rows)])


def test_old_tables_without_question_or_era_fail_loudly():
    old = _table([_row("a", 0.1, 0.2)]).drop(columns=["question", "era"])
    with pytest.raises(ValueError, match="lack column.s. question, era"):
        pool([old])


def test_primary_only_within_trastuzumab():
    primary = {"signature": "SIG", "method": "zmean", "endpoint": "pcr", "model": "logistic"}
    rows = [_row(f"t{i}", 0.1 * i, 0.3) for i in range(3)]
    rows += [_row(f"p{i}", 0.1 * i, 0.3, question="prognosis", era="pre_trastuzumab")
             for i in range(3)]
    out = pool([_table(rows)], primary=primary)
    assert out["analysis"].tolist() == ["primary", "exploratory"]
    assert out.iloc[0]["question"] == "within_trastuzumab"
    assert out.iloc[0]["stratum"] == "within_trastuzumab (trastuzumab)"


def test_fdr_family_defaults_to_stratum_endpoint_model():
    rows = []
    for sig, b in [("S1", 0.5), ("S2", 0.1)]:
        rows += [_row(f"c{i}", b + 0.05 * i, 0.2, signature=sig) for i in range(3)]
        rows += [_row(f"u{i}", b / 3 + 0.1 * i, 0.2, signature=sig, question="prognosis")
                 for i in range(3)]
    out = pool([_table(rows)])
    for _, grp in out.groupby("question"):
        p = np.sort(grp["p"].to_numpy())
        assert np.sort(grp["q"].to_numpy()) == pytest.approx([min(p[0] * 2, p[1]), p[1]],
                                                             rel=1e-12)


def test_rows_not_pooled_and_auc_are_ignored():
    rows = [_row(f"c{i}", 0.2, 0.2) for i in range(3)]
    rows += [_row("x", 5.0, 0.1, pooled=False), _row("c0", 0.8, 0.1, model="auc")]
    out = pool([_table(rows)])
    assert len(out) == 1 and out.iloc[0]["cohorts"] == "c0,c1,c2"


def test_compare_models_uses_the_same_cohorts():
    rows = [_row("a", 0.5, 0.2), _row("b", 0.3, 0.25), _row("c", 0.4, 0.3),
            _row("a", 0.4, 0.22, model="logistic_adj"), _row("b", 0.2, 0.27, model="logistic_adj"),
            _row("c", np.nan, np.nan, model="logistic_adj")]
    out = compare_models([_table(rows)], "logistic", "logistic_adj")
    assert list(out.columns) == COMPARE_COLUMNS
    assert out["model"].tolist() == ["logistic", "logistic_adj"]
    assert out["cohorts"].tolist() == ["a,b", "a,b"]
    base = dersimonian_laird(np.array([0.5, 0.3]), np.array([0.2, 0.25]) ** 2)
    assert out.iloc[0]["log_effect"] == _approx(base["estimate"])
    assert out["note"].str.contains("left out \\(an estimate under one model only\\): c").all()
    assert (out["comparison"] == "logistic vs logistic_adj, same cohorts").all()


def test_two_rows_matching_the_primary_stop_the_pooling():
    primary = {"signature": "SIG", "method": "zmean", "endpoint": "pcr", "model": "logistic"}
    rows = [_row(f"t{i}", 0.1 * i, 0.3) for i in range(3)]
    rows += [_row(f"m{i}", 0.1 * i, 0.3, era="mixed") for i in range(3)]
    with pytest.raises(ValueError, match="more than one pooled row matches the primary"):
        pool([_table(rows)], primary=primary)


@pytest.mark.parametrize(("question", "effect_type", "y", "text"), [
    ("within_trastuzumab", "OR per SD", -0.5, "higher score → less pCR"),
    ("within_trastuzumab", "OR HER2-E vs other", 0.5, "HER2-enriched → more pCR"),
    ("treatment_effect", "OR trastuzumab vs not", 0.5, "trastuzumab → more pCR"),
    ("trastuzumab_interaction", "interaction OR", -0.5,
     "score's OR for pCR lower with trastuzumab than without"),
])
def test_pooled_direction_names_what_the_effect_compares(question, effect_type, y, text):
    rows = [{**_row(f"c{i}", y + 0.05 * i, 0.3, question=question), "effect_type": effect_type}
            for i in range(3)]
    assert pool([_table(rows)]).iloc[0]["direction"] == text
