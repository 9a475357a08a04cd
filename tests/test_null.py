"""Random-signature null: statistics, matched draws, and its ability to tell real from random."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from her2atlas import stats
from her2atlas.null import (
    auc_columns,
    cox_score_z,
    draw_matched,
    expression_bins,
    random_signature_null,
)
from her2atlas.signatures import Signature


def test_auc_columns_matches_sklearn():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y = (rng.random(50) < 0.4).astype(int)
    S = np.round(rng.normal(size=(50, 6)), 1)
    np.testing.assert_allclose(auc_columns(S, y), [roc_auc_score(y, S[:, j]) for j in range(6)])


def test_cox_score_z_equals_logrank_for_a_binary_covariate():
    from lifelines.statistics import logrank_test

    rng = np.random.default_rng(1)
    n = 80
    group = rng.random(n) < 0.5
    time = rng.exponential(np.where(group, 8, 14))  # untied
    event = (rng.random(n) < 0.7).astype(int)
    z = cox_score_z(group.astype(float)[:, None], time, event)[0]
    ref = logrank_test(time[group], time[~group], event[group], event[~group])
    assert z**2 == pytest.approx(ref.test_statistic, rel=1e-9)


def test_cox_score_z_sign_and_size_agree_with_the_wald_fit():
    rng = np.random.default_rng(2)
    x = rng.normal(size=150)
    time = rng.exponential(1 / np.exp(0.4 * x))
    event = np.ones(150, int)
    z = cox_score_z(x[:, None], time, event)[0]
    fit = stats.cox_fit(x[:, None], time, event)
    assert np.sign(z) == np.sign(fit.coef[0]) and abs(z) == pytest.approx(
        abs(fit.coef[0] / fit.se[0]), rel=0.1)


def test_draws_are_matched_on_expression_and_unique_within_a_set():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(30, 1000)) + np.linspace(0, 10, 1000)
    bins = expression_bins(X, 20)
    members = np.array([5, 6, 400, 401, 402, 990])
    draws = draw_matched(members, bins, 200, np.random.default_rng(9))
    assert draws.shape == (200, 6)
    assert all(len(set(row)) == 6 for row in draws)
    assert sorted(bins[draws[0]]) == sorted(bins[members])


def _cohort(effect_genes: int = 10, seed: int = 0):
    rng = np.random.default_rng(seed)
    n, g = 120, 800
    latent = rng.normal(size=n)
    X = rng.normal(6, 1, size=(n, g))
    X[:, :effect_genes] += 1.2 * latent[:, None]
    pcr = (rng.random(n) < 1 / (1 + np.exp(1.5 * latent))).astype(int)
    obs = pd.DataFrame({"her2_status": "positive",
                        "trastuzumab": pd.array([True] * n, dtype="boolean"),
                        "pcr": pd.array(pcr, dtype="Int8")}, index=[f"S{i}" for i in range(n)])
    adata = ad.AnnData(X.astype(np.float32), obs=obs,
                       var=pd.DataFrame(index=[f"G{i}" for i in range(g)]))
    return adata


def test_null_separates_a_real_signature_from_a_random_one():
    adata = _cohort()
    sigs = [Signature("REAL", [f"G{i}" for i in range(10)]),
            Signature("RANDOM", [f"G{i}" for i in range(500, 510)])]
    table = random_signature_null(adata, sigs, cohort="toy", design="trastuzumab_treated",
                                  endpoints={"response": "pcr"}, n_random=400, seed=1,
                                  methods=["zmean", "ssgsea", "singscore", "gsva"])
    assert set(table["method"]) == {"zmean", "ssgsea", "singscore"}  # gsva has no null
    real = table[table.signature == "REAL"]
    rand = table[table.signature == "RANDOM"]
    assert (real["p_empirical"] < 0.01).all() and (real["observed"] < 0).all()
    assert (rand["p_empirical"] > 0.05).all()
    assert (table["n_random"] == 400).all()
    again = random_signature_null(adata, sigs, cohort="toy", design="trastuzumab_treated",
                                  endpoints={"response": "pcr"}, n_random=400, seed=1,
                                  methods=["zmean", "ssgsea", "singscore"])
    pd.testing.assert_frame_equal(table, again)  # seeded: identical


def test_null_observed_auc_matches_direct_auc():
    adata = _cohort(seed=4)
    sig = Signature("REAL", [f"G{i}" for i in range(10)])
    table = random_signature_null(adata, [sig], cohort="toy", design="trastuzumab_treated",
                                  endpoints={"response": "pcr"}, n_random=50, methods=["zmean"])
    from her2atlas import score_methods as km

    z = km.zscore_genes(np.asarray(adata.X, float))
    score = z[:, :10].mean(axis=1)
    y = adata.obs["pcr"].astype(int).to_numpy()
    assert table["observed"].iloc[0] == pytest.approx(stats.auc_delong(score, y)[0] - 0.5)


def test_combined_z_null_only_for_up_down_sets_of_unequal_size():
    adata = _cohort(seed=5)
    genes = [f"G{i}" for i in range(30)]
    sigs = [Signature("PLAIN", genes[:10]),
            Signature("EQUAL", genes[:5], down=genes[20:25]),
            Signature("UNEQUAL", genes[:10], down=genes[20:24])]
    table = random_signature_null(adata, sigs, cohort="toy", design="trastuzumab_treated",
                                  endpoints={"response": "pcr"}, n_random=50, seed=2,
                                  methods=["zmean", "combined_z"])
    assert set(table.loc[table.method == "combined_z", "signature"]) == {"UNEQUAL"}
    assert set(table.loc[table.method == "zmean", "signature"]) == {"PLAIN", "EQUAL", "UNEQUAL"}
    X = np.asarray(adata.X, float)
    z = (X - X.mean(axis=0)) / X.std(axis=0, ddof=1)
    score = z[:, :10].sum(axis=1) / np.sqrt(10) - z[:, 20:24].sum(axis=1) / 2.0
    y = adata.obs["pcr"].astype(int).to_numpy()
    row = table[(table.method == "combined_z")].iloc[0]
    assert row["observed"] == pytest.approx(stats.auc_delong(score, y)[0] - 0.5, rel=1e-9)
