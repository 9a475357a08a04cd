"""Estimators against independent references (statsmodels, lifelines, scipy, sklearn, papers)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from her2atlas import stats
from her2atlas.meta import dersimonian_laird


@pytest.fixture
def logistic_data():
    rng = np.random.default_rng(7)
    n = 300
    x = rng.normal(size=n)
    er = rng.random(n) < 0.4
    p = 1 / (1 + np.exp(-(-0.3 + 0.8 * x - 0.5 * er)))
    y = (rng.random(n) < p).astype(int)
    return np.column_stack([np.ones(n), x, er.astype(float)]), y


def test_logistic_matches_statsmodels(logistic_data):
    import statsmodels.api as sm

    X, y = logistic_data
    fit = stats.logistic_fit(X, y)
    ref = sm.Logit(y, X).fit(disp=0)
    assert fit.converged
    np.testing.assert_allclose(fit.coef, ref.params, rtol=1e-8)
    np.testing.assert_allclose(fit.se, ref.bse, rtol=1e-6)
    b, lo, hi, p = fit.wald(1)
    np.testing.assert_allclose(p, ref.pvalues[1], rtol=1e-6)
    np.testing.assert_allclose([lo, hi], ref.conf_int()[1], rtol=1e-6)


def test_logistic_flags_separation():
    x = np.array([-2.0, -1.5, -1.0, -0.5, 0.5, 1.0, 1.5, 2.0])
    y = (x > 0).astype(int)
    fit = stats.logistic_fit(np.column_stack([np.ones(8), x]), y)
    assert not fit.converged
    assert "separation" in fit.note


def test_cox_matches_lifelines():
    from lifelines import CoxPHFitter

    rng = np.random.default_rng(3)
    n = 200
    x = rng.normal(size=n)
    er = (rng.random(n) < 0.5).astype(float)
    t = rng.exponential(1 / (0.05 * np.exp(0.5 * x + 0.3 * er)))
    c = rng.uniform(5, 40, n)
    time = np.round(np.minimum(t, c), 0) + 1  # rounding creates ties (Breslow)
    event = (t <= c).astype(int)
    fit = stats.cox_fit(np.column_stack([x, er]), time, event)
    frame = pd.DataFrame({"x": x, "er": er, "T": time, "E": event})
    ref = CoxPHFitter(baseline_estimation_method="breslow").fit(frame, "T", "E")
    # lifelines uses Efron's tie correction; with Breslow-vs-Efron on this many ties the
    # coefficients differ slightly, so compare on untied times exactly and tied loosely.
    np.testing.assert_allclose(fit.coef, ref.params_[["x", "er"]], rtol=0.05)
    untied = np.minimum(t, c)
    fit_u = stats.cox_fit(np.column_stack([x, er]), untied, event)
    ref_u = CoxPHFitter().fit(pd.DataFrame({"x": x, "er": er, "T": untied, "E": event}), "T", "E")
    # lifelines stops at its own convergence tolerance (~1e-6 relative on these data)
    np.testing.assert_allclose(fit_u.coef, ref_u.params_[["x", "er"]], rtol=2e-5)
    np.testing.assert_allclose(fit_u.se, ref_u.standard_errors_[["x", "er"]], rtol=2e-5)


def test_cox_breslow_matches_statsmodels_phreg_with_ties():
    import statsmodels.api as sm

    rng = np.random.default_rng(11)
    n = 150
    x = rng.normal(size=n)
    time = rng.integers(1, 20, n).astype(float)
    event = (rng.random(n) < 0.6).astype(int)
    fit = stats.cox_fit(x[:, None], time, event)
    ref = sm.PHReg(time, x[:, None], status=event, ties="breslow").fit()
    np.testing.assert_allclose(fit.coef, ref.params, rtol=1e-7)
    np.testing.assert_allclose(fit.se, ref.bse, rtol=1e-6)


def test_logrank_matches_lifelines():
    from lifelines.statistics import logrank_test

    rng = np.random.default_rng(5)
    n = 120
    group = rng.random(n) < 0.5
    t = rng.exponential(np.where(group, 10.0, 16.0))
    time = np.round(t, 1)
    event = (rng.random(n) < 0.8).astype(int)
    chi2, p = stats.logrank_test(time, event, group)
    ref = logrank_test(time[group], time[~group], event[group], event[~group])
    np.testing.assert_allclose(chi2, ref.test_statistic, rtol=1e-10)
    np.testing.assert_allclose(p, ref.p_value, rtol=1e-9)


def test_auc_hanley_mcneil_worked_example():
    """Hanley & McNeil (Radiology 1982) rating data: 58 normal, 51 abnormal; AUC 0.893."""
    normal = np.repeat([1, 2, 3, 4, 5], [33, 6, 6, 11, 2])
    abnormal = np.repeat([1, 2, 3, 4, 5], [3, 2, 2, 11, 33])
    score = np.concatenate([normal, abnormal]).astype(float)
    label = np.concatenate([np.zeros(58, int), np.ones(51, int)])
    auc, se, lo, hi = stats.auc_delong(score, label)
    assert auc == pytest.approx(0.8932, abs=5e-4)
    assert lo < auc < hi


def test_auc_matches_sklearn_and_delong_variance_by_definition():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(2)
    y = (rng.random(80) < 0.4).astype(int)
    s = rng.normal(size=80) + 0.8 * y
    auc, se, _, _ = stats.auc_delong(s, y)
    assert auc == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    # DeLong variance from the structural components written out with plain loops
    pos, neg = s[y == 1], s[y == 0]
    psi = [[1.0 if p > q else 0.5 if p == q else 0.0 for q in neg] for p in pos]
    v10 = [np.mean(r) for r in psi]
    v01 = [np.mean([psi[i][j] for i in range(len(pos))]) for j in range(len(neg))]
    var = np.var(v10, ddof=1) / len(pos) + np.var(v01, ddof=1) / len(neg)
    assert se == pytest.approx(np.sqrt(var), rel=1e-12)


def test_benjamini_hochberg_matches_statsmodels():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(1)
    p = rng.uniform(size=40) ** 2
    p[[3, 17]] = np.nan
    q = stats.benjamini_hochberg(p)
    ok = np.isfinite(p)
    ref = multipletests(p[ok], method="fdr_bh")[1]
    np.testing.assert_allclose(q[ok], ref, rtol=1e-12)
    assert np.isnan(q[[3, 17]]).all()


# BCG vaccine trials (Colditz et al. 1994; metafor's dat.bcg): tpos, tneg, cpos, cneg
BCG = np.array([
    [4, 119, 11, 128], [6, 300, 29, 274], [3, 228, 11, 209], [62, 13536, 248, 12619],
    [33, 5036, 47, 5761], [180, 1361, 372, 1079], [8, 2537, 10, 619], [505, 87886, 499, 87892],
    [29, 7470, 45, 7232], [17, 1699, 65, 1600], [186, 50448, 141, 27197], [5, 2493, 3, 2338],
    [27, 16886, 29, 17825],
], dtype=float)


def test_dersimonian_laird_bcg_published_values():
    """metafor rma(measure='RR', method='DL') on dat.bcg: tau² 0.3088, est −0.7141 (se 0.1787)."""
    a, b, c, d = BCG.T
    y = np.log((a / (a + b)) / (c / (c + d)))
    v = 1 / a - 1 / (a + b) + 1 / c - 1 / (c + d)
    res = dersimonian_laird(y, v)
    assert res["tau2"] == pytest.approx(0.3088, abs=5e-4)
    assert res["estimate"] == pytest.approx(-0.7141, abs=5e-4)
    assert res["se"] == pytest.approx(0.1787, abs=5e-4)
    assert res["i2"] == pytest.approx(92.12, abs=0.05)
    assert res["q"] == pytest.approx(152.2330, abs=1e-3)


def test_dersimonian_laird_matches_statsmodels():
    from statsmodels.stats.meta_analysis import combine_effects

    a, b, c, d = BCG.T
    y = np.log((a / (a + b)) / (c / (c + d)))
    v = 1 / a - 1 / (a + b) + 1 / c - 1 / (c + d)
    res = dersimonian_laird(y, v)
    ref = combine_effects(y, v, method_re="dl")
    assert res["tau2"] == pytest.approx(ref.tau2, rel=1e-10)
    assert res["estimate"] == pytest.approx(ref.mean_effect_re, rel=1e-10)
    assert res["se"] == pytest.approx(ref.sd_eff_w_re, rel=1e-10)
    assert res["fixed"] == pytest.approx(ref.mean_effect_fe, rel=1e-10)


def test_kaplan_meier_matches_lifelines():
    from lifelines import KaplanMeierFitter

    rng = np.random.default_rng(9)
    time = np.round(rng.exponential(10, 60), 1)
    event = (rng.random(60) < 0.7).astype(int)
    t, s = stats.kaplan_meier(time, event)
    ref = KaplanMeierFitter().fit(time, event).survival_function_
    expected = ref.loc[t[1:]].to_numpy().ravel()
    np.testing.assert_allclose(s[1:], expected, rtol=1e-12)


def _bcg():
    a, b, c, d = BCG.T
    return np.log((a / (a + b)) / (c / (c + d))), 1 / a - 1 / (a + b) + 1 / c - 1 / (c + d)


def test_paule_mandel_and_hksj_match_statsmodels():
    from statsmodels.stats.meta_analysis import combine_effects

    from her2atlas.meta import hksj, paule_mandel

    y, v = _bcg()
    ref = combine_effects(y, v, method_re="pm")
    assert paule_mandel(y, v) == pytest.approx(ref.tau2, rel=1e-6)
    assert paule_mandel(y, v) == pytest.approx(0.3181, abs=5e-4)  # metafor method="PM"
    dl = combine_effects(y, v, method_re="dl")
    res = hksj(y, v, dl.tau2)
    assert res["se"] == pytest.approx(dl.sd_eff_w_re_hksj, rel=1e-8)
    t = __import__("scipy").stats.t.ppf(0.975, len(y) - 1)
    assert res["ci_high"] - res["estimate"] == pytest.approx(t * res["se"], rel=1e-12)


def test_prediction_interval_and_leave_one_out_bcg():
    from scipy.stats import t as student_t

    from her2atlas.meta import dersimonian_laird, leave_one_out, prediction_interval

    y, v = _bcg()
    dl = dersimonian_laird(y, v)
    lo, hi = prediction_interval(dl["estimate"], dl["se"], dl["tau2"], len(y))
    half = student_t.ppf(0.975, len(y) - 2) * np.sqrt(0.3088 + 0.1787**2)  # Higgins 2009, k-2 df
    assert lo == pytest.approx(-0.7141 - half, abs=2e-3) and hi == pytest.approx(-0.7141 + half,
                                                                                abs=2e-3)
    loo = leave_one_out(y, v)
    assert len(loo) == 13
    for i in (0, 7):
        assert loo[i] == pytest.approx(dersimonian_laird(np.delete(y, i), np.delete(v, i))
                                       ["estimate"])


def test_prediction_interval_covers_a_new_cohort_about_95_percent():
    from her2atlas.meta import dersimonian_laird, prediction_interval

    rng = np.random.default_rng(0)
    hits = 0
    reps = 2000
    for _ in range(reps):
        k, tau = 12, 0.3
        v = rng.uniform(0.01, 0.05, k)
        y = rng.normal(0, tau, k) + rng.normal(0, np.sqrt(v))
        dl = dersimonian_laird(y, v)
        lo, hi = prediction_interval(dl["estimate"], dl["se"], dl["tau2"], k)
        hits += lo <= rng.normal(0, tau) <= hi
    assert 0.92 <= hits / reps <= 0.985


def test_delong_interval_covers_the_true_auc_about_95_percent():
    """Binormal model with known AUC = Φ(δ/√2): the DeLong 95% CI should cover it ~95%."""
    from scipy.stats import norm

    rng = np.random.default_rng(11)
    delta = 1.0
    true_auc = norm.cdf(delta / np.sqrt(2))
    reps, hits = 1500, 0
    for _ in range(reps):
        neg = rng.normal(0, 1, 60)
        pos = rng.normal(delta, 1, 40)
        score = np.concatenate([neg, pos])
        label = np.concatenate([np.zeros(60, int), np.ones(40, int)])
        _, _, lo, hi = stats.auc_delong(score, label)
        hits += lo <= true_auc <= hi
    assert 0.93 <= hits / reps <= 0.97
