"""Firth, stratified Cox, the proportional-hazards test and k-group log-rank vs references."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize
from scipy.stats import chi2 as chi2_dist

from her2atlas import stats


def test_firth_two_by_two_is_haldane_corrected_odds_ratio():
    """Saturated 2×2 logistic model: Firth's estimate = log OR with 0.5 added to every cell."""
    # exposed: 12 events / 0 non-events (separation); unexposed: 5 / 9
    x = np.array([1] * 12 + [0] * 14, float)
    y = np.array([1] * 12 + [1] * 5 + [0] * 9, float)
    fit = stats.firth_logistic_fit(np.column_stack([np.ones_like(x), x]), y)
    expected = np.log((12.5 * 9.5) / (0.5 * 5.5))
    assert fit.converged
    assert fit.coef[1] == pytest.approx(expected, rel=1e-7)
    ml = stats.logistic_fit(np.column_stack([np.ones_like(x), x]), y)
    assert not ml.converged  # plain ML diverges here


def test_firth_maximises_the_penalised_likelihood():
    rng = np.random.default_rng(4)
    X = np.column_stack([np.ones(40), rng.normal(size=40), rng.random(40) < 0.5])
    y = (rng.random(40) < 1 / (1 + np.exp(-(X[:, 1] * 2)))).astype(float)

    def negative(b):
        mu = 1 / (1 + np.exp(-(X @ b)))
        info = X.T @ (X * (mu * (1 - mu))[:, None])
        return -(np.sum(y * np.log(mu) + (1 - y) * np.log(1 - mu))
                 + 0.5 * np.linalg.slogdet(info)[1])

    ref = minimize(negative, np.zeros(3), method="BFGS", options={"gtol": 1e-10})
    fit = stats.firth_logistic_fit(X, y)
    np.testing.assert_allclose(fit.coef, ref.x, atol=1e-5)


def test_stratified_cox_matches_lifelines():
    from lifelines import CoxPHFitter

    rng = np.random.default_rng(6)
    n = 240
    x = rng.normal(size=n)
    stratum = rng.integers(0, 2, n)
    t = rng.exponential(1 / (np.where(stratum == 1, 0.2, 0.05) * np.exp(0.5 * x)))
    c = rng.uniform(2, 30, n)
    time, event = np.minimum(t, c), (t <= c).astype(int)
    fit = stats.cox_fit(x[:, None], time, event, strata=stratum)
    frame = pd.DataFrame({"x": x, "s": stratum, "T": time, "E": event})
    ref = CoxPHFitter().fit(frame, "T", "E", strata=["s"])
    assert fit.coef[0] == pytest.approx(ref.params_["x"], rel=2e-5)
    assert fit.se[0] == pytest.approx(ref.standard_errors_["x"], rel=2e-5)


@pytest.mark.parametrize("transform", ["rank", "identity", "log"])
def test_ph_test_is_the_score_test_for_a_time_varying_coefficient(transform):
    """survival ≥ 3.0's cox.zph: score test of γ = 0 in h(t) = h0(t) exp(x(β + γ g(t))).

    Written out with plain loops over event times (Breslow risk sets) at (β̂, γ = 0), the score
    for β set to 0 as cox.zph does. lifelines implements the older approximation (average
    variance, survival < 3.0), so it is no longer the reference; R's numbers are pinned in
    test_stats_inference.py.
    """
    from scipy.stats import rankdata

    rng = np.random.default_rng(8)
    n = 200
    x = rng.normal(size=n)
    t = rng.exponential(1 / (0.1 * np.exp(0.9 * x))) ** 1.5
    c = rng.uniform(1, 40, n)
    time, event = np.minimum(t, c), (t <= c).astype(int)
    fit = stats.cox_fit(x[:, None], time, event)
    chi2, p = stats.ph_test(fit, 0, transform=transform)

    g = {"rank": rankdata(time), "identity": time, "log": np.log(time)}[transform]
    g = g - g[event == 1].mean()
    b = fit.coef[0]
    u = 0.0
    info = np.zeros((2, 2))
    for i in np.flatnonzero(event == 1):
        risk = time >= time[i]
        w = np.exp(b * x[risk])
        mean = np.sum(w * x[risk]) / np.sum(w)
        var = np.sum(w * x[risk] ** 2) / np.sum(w) - mean**2
        u += g[i] * (x[i] - mean)
        info += var * np.array([[1, g[i]], [g[i], g[i] ** 2]])
    expected = u**2 * np.linalg.inv(info)[1, 1]
    assert chi2 == pytest.approx(expected, rel=1e-9)
    assert p == pytest.approx(chi2_dist.sf(expected, 1), rel=1e-8)


def test_k_group_logrank_matches_lifelines():
    from lifelines.statistics import multivariate_logrank_test

    rng = np.random.default_rng(10)
    n = 150
    group = rng.integers(0, 3, n)
    time = np.round(rng.exponential(np.array([8, 12, 18])[group]), 1)
    event = (rng.random(n) < 0.75).astype(int)
    stat, p = stats.logrank_test_k(time, event, group)
    ref = multivariate_logrank_test(time, group, event)
    assert stat == pytest.approx(ref.test_statistic, rel=1e-8)
    assert p == pytest.approx(ref.p_value, rel=1e-7)
