"""Design-aware association tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from her2atlas.association import COLUMNS, associate_cohort, subgroups
from her2atlas.meta import pool


def _cohort(n=120, seed=0, effect=-1.0, design_arm=False):
    rng = np.random.default_rng(seed)
    score = rng.normal(size=n)
    treated = rng.random(n) < 0.5 if design_arm else np.ones(n, bool)
    pcr = (rng.random(n) < 1 / (1 + np.exp(-(effect * score)))).astype(int)
    samples = [f"S{i}" for i in range(n)]
    obs = pd.DataFrame({
        "her2_status": ["positive"] * (n - 10) + ["negative"] * 10,
        "er_status": np.where(rng.random(n) < 0.4, "positive", "negative"),
        "trastuzumab": pd.array(treated, dtype="boolean"),
        "pcr": pd.array(pcr, dtype="Int8"),
        "os_time": rng.exponential(50, n), "os_event": pd.array(rng.random(n) < 0.5, dtype="Int8"),
    }, index=samples)
    scores = pd.DataFrame({"sample": samples, "signature": "SIG", "method": "zmean",
                           "score": score, "score_z": score, "genes_used": 9, "genes_in_set": 9})
    return obs, scores


def test_trastuzumab_treated_cohort_rows():
    obs, scores = _cohort()
    resp, surv = associate_cohort(obs, scores, cohort="c", design="trastuzumab_treated",
                                  endpoints={"response": "pcr", "survival": ["os"]},
                                  roles={"SIG": "hypothesis"})
    assert list(resp.columns) == COLUMNS
    assert set(resp["model"]) == {"auc", "logistic", "logistic_adj_er"}
    assert (resp["n"] == 110).all()  # HER2-negative samples are excluded
    logit = resp[resp["model"] == "logistic"].iloc[0]
    assert logit["effect"] < 1 and logit["direction"] == "higher score → less pCR"
    assert logit["ci_low"] < logit["effect"] < logit["ci_high"]
    assert logit["question"] == "prognostic_within_trastuzumab"
    assert set(surv["model"]) == {"cox", "cox_adj_er", "logrank_median"}
    assert resp["q"].notna().all()


def test_or_is_per_sd_within_analysed_samples():
    import statsmodels.api as sm

    obs, scores = _cohort(seed=3)
    scores["score"] = scores["score"] * 7 + 100  # scale must not matter
    resp, _ = associate_cohort(obs, scores, cohort="c", design="trastuzumab_treated",
                               endpoints={"response": "pcr"}, roles={})
    her2 = obs["her2_status"] == "positive"
    s = scores.set_index("sample")["score"][her2]
    z = (s - s.mean()) / s.std(ddof=1)
    ref = sm.Logit(obs.loc[her2, "pcr"].astype(int).to_numpy(), sm.add_constant(z.to_numpy())).fit(disp=0)
    got = resp[resp["model"] == "logistic"].iloc[0]
    assert got["effect"] == pytest.approx(np.exp(ref.params[1]), rel=1e-8)


def test_randomised_design_splits_arms_and_pools_only_treated():
    obs, scores = _cohort(design_arm=True)
    groups = subgroups(obs, "randomised_trastuzumab")
    assert [g[0] for g in groups] == ["HER2+ trastuzumab arm", "HER2+ no-trastuzumab arm"]
    assert [g[3] for g in groups] == [True, False]
    resp, _ = associate_cohort(obs, scores, cohort="c", design="randomised_trastuzumab",
                               endpoints={"response": "pcr"}, roles={})
    assert set(resp["subgroup"]) == {"HER2+ trastuzumab arm", "HER2+ no-trastuzumab arm"}


def test_too_few_events_gives_a_reason_not_a_number():
    obs, scores = _cohort(n=40)
    obs["pcr"] = pd.array([1, 1] + [0] * 38, dtype="Int8")
    resp, _ = associate_cohort(obs, scores, cohort="c", design="trastuzumab_treated",
                               endpoints={"response": "pcr"}, roles={}, min_events=5)
    logit = resp[resp["model"] == "logistic"].iloc[0]
    assert np.isnan(logit["effect"]) and logit["note"].startswith("not fitted: 2 pCR")


def test_meta_pools_per_cohort_rows():
    tables = []
    for i, seed in enumerate([1, 2, 3]):
        obs, scores = _cohort(seed=seed)
        resp, _ = associate_cohort(obs, scores, cohort=f"c{i}", design="trastuzumab_treated",
                                   endpoints={"response": "pcr"}, roles={"SIG": "hypothesis"})
        tables.append(resp)
    pooled = pool(tables)
    row = pooled[(pooled["model"] == "logistic")].iloc[0]
    assert row["k"] == 3 and row["cohorts"] == "c0,c1,c2"
    assert row["effect"] < 1 and row["ci_low"] < row["effect"] < row["ci_high"]
    single = pool(tables[:1])
    assert single["note"].str.contains("not pooled: 1 cohort").all()
