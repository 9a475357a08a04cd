"""Genes fitted together: independent references, and the same tables as the per-gene path."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from her2atlas import gene_fits as gf
from her2atlas import genes as gx
from her2atlas import stats
from her2atlas.association import Settings
from her2atlas.signatures import Signature


def _genes(n: int = 300, g: int = 4, seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(8, 1.5, size=(g, n))


def test_logistic_many_equals_statsmodels_logit():
    import statsmodels.api as sm

    X = _genes()
    rng = np.random.default_rng(1)
    y = (rng.random(X.shape[1]) < 1 / (1 + np.exp(-0.6 * (X[0] - 8)))).astype(int)
    Z, sd_ok = gf.zscore_rows(X)
    beta, se, ok = gf.logistic_many(Z, y)
    assert ok.all() and sd_ok.all()
    for g in range(len(X)):
        ref = sm.Logit(y, sm.add_constant(Z[g])).fit(disp=0, tol=1e-12)
        np.testing.assert_allclose(beta[g], ref.params, rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(se[g], ref.bse, rtol=1e-7)
    assert beta[0, 1] > 0.3  # the gene that drives pCR has a clear positive slope


def test_logistic_many_flags_separation_and_constant_genes():
    X = _genes(n=60, g=3)
    y = (np.arange(60) % 2).astype(int)
    X[1] = y * 5.0 + 0.01 * np.arange(60) / 60  # separates y completely
    X[2] = 7.0  # constant
    Z, sd_ok = gf.zscore_rows(X)
    _, _, ok = gf.logistic_many(Z, y)
    assert list(ok) == [True, False, False]
    assert list(sd_ok) == [True, True, False]


def test_cox_many_equals_statsmodels_phreg_breslow_ties_and_strata():
    import statsmodels.api as sm

    X = _genes(n=250)
    rng = np.random.default_rng(2)
    time = rng.integers(1, 30, X.shape[1]).astype(float)  # many ties: Breslow matters
    event = (rng.random(X.shape[1]) < 0.5).astype(int)
    strata = np.where(rng.random(X.shape[1]) < 0.4, "a", "b")
    Z, _ = gf.zscore_rows(X)
    for labels in (None, strata):
        beta, se, ok = gf.cox_many(Z, gf.CoxRisk(time, event, labels))
        assert ok.all()
        for g in range(len(X)):
            ref = sm.PHReg(time, Z[g][:, None], status=event, ties="breslow",
                           strata=labels).fit()
            np.testing.assert_allclose(beta[g], ref.params[0], rtol=1e-7, atol=1e-10)
            np.testing.assert_allclose(se[g], ref.bse[0], rtol=1e-6)


def test_cox_many_equals_lifelines_untied():
    from lifelines import CoxPHFitter

    X = _genes(n=200, g=3)
    rng = np.random.default_rng(4)
    time = rng.exponential(20 * np.exp(-0.4 * (X[0] - 8)))
    event = (rng.random(200) < 0.7).astype(int)
    Z, _ = gf.zscore_rows(X)
    beta, se, ok = gf.cox_many(Z, gf.CoxRisk(time, event, None))
    assert ok.all()
    for g in range(len(X)):
        ref = CoxPHFitter().fit(pd.DataFrame({"z": Z[g], "T": time, "E": event}), "T", "E")
        # lifelines stops at its own convergence tolerance (~1e-6 relative)
        np.testing.assert_allclose(beta[g], ref.params_["z"], rtol=2e-5)
        np.testing.assert_allclose(se[g], ref.standard_errors_["z"], rtol=2e-5)


def test_cox_many_and_ph_many_equal_single_gene_fits_bit_for_bit():
    X = _genes(n=400, g=6)
    rng = np.random.default_rng(7)
    time = np.round(rng.exponential(40, 400), 0) + 1
    event = (rng.random(400) < 0.4).astype(int)
    strata = np.where(rng.random(400) < 0.5, "x", "y")
    Z, _ = gf.zscore_rows(X)
    risk = gf.CoxRisk(time, event, strata)
    beta, se, _ = gf.cox_many(Z, risk)
    ph = gf.ph_many(Z, risk, beta, transform="km")
    for g in range(len(X)):
        fit = stats.cox_fit(Z[g][:, None], time, event, strata=strata)
        assert beta[g] == fit.coef[0] and se[g] == fit.se[0]
        np.testing.assert_allclose(ph[g], stats.ph_test(fit, 0, transform="km")[1],
                                   rtol=1e-9)


GENES = [f"G{i}" for i in range(40)]
SIGS = [Signature("A", GENES[:25], role="hypothesis"),
        Signature("B", GENES[20:], role="hypothesis", down=GENES[:3])]


def _cohort(n: int = 260, seed: int = 3) -> ad.AnnData:
    """pCR and two survival endpoints: a separating gene, a gene with NaN, rfs with 3 events."""
    rng = np.random.default_rng(seed)
    X = rng.normal(8, 1.5, size=(n, len(GENES)))
    pcr = (rng.random(n) < 1 / (1 + np.exp(-0.7 * (X[:, 0] - 8)))).astype(int)
    X[:, 5] = 8 + 3 * pcr + rng.random(n) * 0.1  # separates pCR: ML fails, Firth fits
    X[:4, 7] = np.nan
    rfs_event = np.zeros(n, int)
    rfs_event[:3] = 1
    obs = pd.DataFrame({
        "her2_status": np.where(rng.random(n) < 0.85, "positive", "negative"),
        "er_status": np.where(rng.random(n) < 0.5, "positive", "negative"),
        "trastuzumab": pd.array(rng.random(n) < 0.6, dtype="boolean"),
        "pcr": pd.array(pcr, dtype="Int8"),
        "os_time": np.round(rng.exponential(50 * np.exp(-0.4 * (X[:, 1] - 8)), n), 0) + 1,
        "os_event": pd.array((rng.random(n) < 0.5).astype(int), dtype="Int8"),
        "rfs_time": rng.exponential(50, n),
        "rfs_event": pd.array(rfs_event, dtype="Int8"),
    }, index=[f"S{i}" for i in range(n)])
    return ad.AnnData(X, obs=obs, var=pd.DataFrame(index=GENES))


def test_fast_path_gives_the_per_gene_table(monkeypatch):
    adata = _cohort()
    endpoints = {"response": "pcr", "survival": ["os", "rfs"]}
    kw = {"cohort": "c", "design": "mixed", "endpoints": endpoints}
    fitted = {"logistic": 0, "cox": 0}

    def spy(name, fn):
        def wrapped(Z, *args, **kwargs):
            fitted[name] += len(Z)
            return fn(Z, *args, **kwargs)
        return wrapped

    monkeypatch.setattr(gf, "logistic_many", spy("logistic", gf.logistic_many))
    monkeypatch.setattr(gf, "cox_many", spy("cox", gf.cox_many))
    fast = gx.gene_effects_cohort(adata, SIGS, **kw)
    # the fast path did the work: every gene but the one with NaN, in each fitted subgroup
    subgroups = fast["subgroup"].nunique()
    assert fitted == {"logistic": 39 * subgroups, "cox": 39 * subgroups}
    slow = gx.gene_effects_cohort(adata, SIGS, fast=False, **kw)
    pd.testing.assert_frame_equal(fast, slow, check_exact=False, rtol=1e-10, atol=0)
    logistic = fast[fast["model"] == "logistic"]
    assert logistic[logistic["gene"] == "G5"]["estimator"].str.startswith(
        "Firth (ML failed").all()
    assert (logistic[logistic["gene"] == "G0"]["estimator"] == "ML").all()
    rfs = fast[fast["endpoint"] == "rfs"]
    assert len(rfs) and rfs["note"].str.contains("minimum 5").all()
    assert rfs["effect"].isna().all()
    os_rows = fast[(fast["endpoint"] == "os") & (fast["gene"] == "G7")]
    assert (os_rows["n"] < fast[(fast["endpoint"] == "os") & (fast["gene"] == "G6")]["n"].max()
            ).all()


@pytest.mark.parametrize("settings", [
    Settings(strata=["er_status"], horizon_months=60.0, ph_transform="km"),
    Settings(firth="never"),
    Settings(firth="always"),
    Settings(firth_below_events=200, min_events=3),
])
def test_fast_path_equals_per_gene_under_other_settings(settings):
    adata = _cohort(n=200, seed=8)
    kw = {"cohort": "c", "design": "mixed", "settings": settings,
          "endpoints": {"response": "pcr", "survival": ["os", "rfs"]}}
    fast = gx.gene_effects_cohort(adata, SIGS, **kw)
    slow = gx.gene_effects_cohort(adata, SIGS, fast=False, **kw)
    pd.testing.assert_frame_equal(fast, slow, check_exact=False, rtol=1e-10, atol=0)
    assert fast["effect"].notna().any()


def test_fast_path_equals_per_gene_with_arm_indicators():
    adata = _cohort(n=180, seed=9)
    adata.obs["arm"] = np.array(["TH", "TL", "THL"])[np.arange(180) % 3]
    adata.obs["trastuzumab"] = pd.array(adata.obs["arm"] != "TL", dtype="boolean")
    kw = {"cohort": "c", "design": "multi_arm_anti_her2",
          "endpoints": {"response": "pcr", "survival": ["os"]}}
    fast = gx.gene_effects_cohort(adata, SIGS, **kw)
    slow = gx.gene_effects_cohort(adata, SIGS, fast=False, **kw)
    pd.testing.assert_frame_equal(fast, slow, check_exact=False, rtol=1e-10, atol=0)
    assert fast["formula"].str.contains("arm").any()
