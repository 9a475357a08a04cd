"""Design-aware association tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from her2atlas.association import COLUMNS, Settings, associate_cohort, subgroups
from her2atlas.strata import CohortDesign


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
    assert set(resp["model"]) == {"auc", "logistic", "logistic_adj"}
    assert (resp["n"] == 110).all()  # HER2-negative samples are excluded
    logit = resp[resp["model"] == "logistic"].iloc[0]
    assert logit["effect"] < 1 and logit["direction"] == "higher score → less pCR"
    assert logit["ci_low"] < logit["effect"] < logit["ci_high"]
    assert logit["question"] == "within_trastuzumab"
    assert logit["stratum"] == "within trastuzumab-treated · trastuzumab era"
    assert logit["era"] == "trastuzumab" and logit["covariates"] == ""
    assert set(surv["model"]) == {"cox", "cox_adj", "logrank_median"}
    assert surv.loc[surv.model == "cox", "ph_p"].between(0, 1).all()
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
    assert [g.question for g in groups] == ["within_trastuzumab", "within_untreated_arm"]
    assert [g[3] for g in groups] == [True, True]
    resp, _ = associate_cohort(obs, scores, cohort="c", design="randomised_trastuzumab",
                               endpoints={"response": "pcr"}, roles={})
    assert set(resp["subgroup"]) == {"HER2+ trastuzumab arm", "HER2+ no-trastuzumab arm",
                                     "HER2+ both arms"}
    inter = resp[resp.question == "trastuzumab_interaction"]
    assert len(inter) == 1 and inter["effect_type"].iloc[0] == "interaction OR"


def test_too_few_events_gives_a_reason_not_a_number():
    obs, scores = _cohort(n=40)
    obs["pcr"] = pd.array([1, 1] + [0] * 38, dtype="Int8")
    resp, _ = associate_cohort(obs, scores, cohort="c", design="trastuzumab_treated",
                               endpoints={"response": "pcr"}, roles={}, min_events=5)
    logit = resp[resp["model"] == "logistic"].iloc[0]
    assert np.isnan(logit["effect"]) and logit["note"].startswith("not fitted: 2 pCR")


def test_interaction_matches_statsmodels():
    import statsmodels.api as sm

    rng = np.random.default_rng(21)
    n = 400
    score = rng.normal(size=n)
    treated = rng.random(n) < 0.5
    er = rng.random(n) < 0.4
    logit = -0.2 + 0.8 * treated - 0.9 * score * treated - 0.5 * er
    pcr = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    obs = pd.DataFrame({"her2_status": "positive",
                        "er_status": np.where(er, "positive", "negative"),
                        "trastuzumab": pd.array(treated, dtype="boolean"),
                        "pcr": pd.array(pcr, dtype="Int8")}, index=[f"S{i}" for i in range(n)])
    scores = pd.DataFrame({"sample": obs.index, "signature": "SIG", "method": "zmean",
                           "score": score, "score_z": score, "genes_used": 9, "genes_in_set": 9})
    resp, _ = associate_cohort(obs, scores, cohort="r", design="randomised_trastuzumab",
                               endpoints={"response": "pcr"}, roles={})
    row = resp[resp.question == "trastuzumab_interaction"].iloc[0]
    z = (score - score.mean()) / score.std(ddof=1)
    X = np.column_stack([np.ones(n), z, treated, z * treated, er]).astype(float)
    ref = sm.Logit(pcr, X).fit(disp=0)
    assert row["effect"] == pytest.approx(np.exp(ref.params[3]), rel=1e-7)
    assert row["p"] == pytest.approx(ref.pvalues[3], rel=1e-6)
    assert row["effect"] < 1 and row["formula"] == "pcr ~ z(score) * trastuzumab + er_positive"


def test_positive_control_her2e_in_randomised_cohort():
    rng = np.random.default_rng(2)
    n = 300
    treated = rng.random(n) < 0.5
    her2e = rng.random(n) < 0.5
    pcr = (rng.random(n) < np.where(her2e & treated, 0.6, 0.25)).astype(int)
    obs = pd.DataFrame({"her2_status": "positive", "er_status": "negative",
                        "pam50_called": np.where(her2e, "Her2", "LumB"),
                        "trastuzumab": pd.array(treated, dtype="boolean"),
                        "pcr": pd.array(pcr, dtype="Int8")}, index=[f"S{i}" for i in range(n)])
    scores = pd.DataFrame({"sample": obs.index, "signature": "SIG", "method": "zmean",
                           "score": rng.normal(size=n), "score_z": 0.0, "genes_used": 9,
                           "genes_in_set": 9})
    resp, _ = associate_cohort(obs, scores, cohort="r", design="randomised_trastuzumab",
                               endpoints={"response": "pcr"}, roles={},
                               settings=Settings(adjust_for=[]))
    ctrl = resp[resp.signature == "PAM50_HER2E"]
    effect = ctrl[ctrl.model == "trastuzumab_effect"].iloc[0]
    table = pd.crosstab(treated[her2e], pcr[her2e])
    expected = (table.loc[True, 1] * table.loc[False, 0]) / (table.loc[True, 0]
                                                            * table.loc[False, 1])
    assert effect["effect"] == pytest.approx(expected, rel=1e-6)  # ML OR = cross-product ratio
    assert ctrl[ctrl.model == "interaction"]["effect"].iloc[0] > 1


def test_firth_is_used_for_few_events_and_controls_adjust():
    obs, scores = _cohort(n=60, seed=5)
    obs["pcr"] = pd.array([1] * 7 + [0] * 53, dtype="Int8")
    extra = scores.copy()
    extra["signature"] = "CTRL"
    extra["score"] = np.random.default_rng(1).normal(size=len(extra))
    both = pd.concat([scores, extra])
    resp, _ = associate_cohort(obs, both, cohort="c", design="trastuzumab_treated",
                               endpoints={"response": "pcr"}, roles={},
                               settings=Settings(adjust_controls=["CTRL"]))
    sig = resp[resp.signature == "SIG"]
    assert (sig.loc[sig.model != "auc", "estimator"] == "Firth").all()
    assert (sig.loc[sig.model != "auc", "ci_method"] == "profile penalised likelihood").all()
    ctrl_row = sig[sig.model == "logistic_adj_controls"].iloc[0]
    assert ctrl_row["formula"] == "pcr ~ z(score) + er_positive + z(CTRL)"
    assert np.isfinite(ctrl_row["effect"])


def test_horizon_censors_late_events_and_primary_is_marked():
    obs, scores = _cohort(seed=7)
    obs["os_time"] = np.linspace(1, 200, len(obs))
    obs["os_event"] = pd.array([1] * len(obs), dtype="Int8")
    primary = {"signature": "SIG", "method": "zmean", "endpoint": "os", "model": "cox"}
    _, surv = associate_cohort(obs, scores, cohort="c", design="trastuzumab_treated",
                               endpoints={"survival": ["os"]}, roles={}, primary=primary,
                               settings=Settings(horizon_months=120))
    cox = surv[surv.model == "cox"].iloc[0]
    her2 = (obs["her2_status"] == "positive").to_numpy()
    assert cox["events"] == int((obs["os_time"].to_numpy()[her2] <= 120).sum())
    assert cox["analysis"] == "primary"
    assert (surv[surv.model != "cox"]["analysis"] == "exploratory").all()


def _logit_ref(y, *columns):
    import statsmodels.api as sm

    return sm.Logit(np.asarray(y, float), np.column_stack([np.ones(len(y)), *columns])).fit(disp=0)


def _z(x):
    return (x - x.mean()) / x.std(ddof=1)


def test_adjusted_model_uses_its_own_complete_cases():
    obs, scores = _cohort(seed=11)
    obs["er_status"] = obs["er_status"].astype(object)
    obs.iloc[[0, 1, 2], obs.columns.get_loc("er_status")] = None  # three unknown ER values
    resp, _ = associate_cohort(obs, scores, cohort="c", design="trastuzumab_treated",
                               endpoints={"response": "pcr"}, roles={})
    adj = resp[resp.model == "logistic_adj"].iloc[0]
    unadj = resp[resp.model == "logistic"].iloc[0]
    assert (unadj["n"], adj["n"]) == (110, 107)
    keep = (obs["her2_status"] == "positive") & obs["er_status"].notna()
    s = scores.set_index("sample")["score"][keep].to_numpy()
    ref = _logit_ref(obs.loc[keep, "pcr"].astype(int), _z(s),
                     (obs.loc[keep, "er_status"] == "positive").astype(float))
    assert adj["effect"] == pytest.approx(np.exp(ref.params[1]), rel=1e-7)
    assert adj["events"] == int(obs.loc[keep, "pcr"].sum())
    assert adj["covariates"] == "er_positive"
    assert adj["formula"] == "pcr ~ z(score) + er_positive"
    assert "3 sample(s) without every covariate left out" in adj["note"]


def test_constant_covariate_is_dropped_by_name_and_missing_field_is_not_fitted():
    obs, scores = _cohort(seed=12)
    obs["er_status"] = "positive"
    resp, _ = associate_cohort(obs, scores, cohort="c", design="trastuzumab_treated",
                               endpoints={"response": "pcr"}, roles={})
    adj = resp[resp.model == "logistic_adj"].iloc[0]
    unadj = resp[resp.model == "logistic"].iloc[0]
    assert adj["formula"] == "pcr ~ z(score)" and adj["covariates"] == ""
    assert adj["note"].startswith("er_positive dropped: constant")
    assert adj["effect"] == pytest.approx(unadj["effect"], rel=1e-12)
    resp, _ = associate_cohort(obs.drop(columns="er_status"), scores, cohort="c",
                               design="trastuzumab_treated", endpoints={"response": "pcr"},
                               roles={})
    adj = resp[resp.model == "logistic_adj"].iloc[0]
    assert np.isnan(adj["effect"]) and adj["note"] == "not fitted: er_status not recorded"


def _three_arm(n=360, seed=4):
    rng = np.random.default_rng(seed)
    arm = rng.choice(["TH", "THL", "TL"], size=n)
    score = rng.normal(size=n)
    with_t = arm != "TL"
    logit = -0.3 + 0.5 * (arm == "THL") - 0.9 * score * with_t
    pcr = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    obs = pd.DataFrame({"her2_status": "positive",
                        "er_status": np.where(rng.random(n) < 0.4, "positive", "negative"),
                        "arm": arm, "trastuzumab": pd.array(with_t, dtype="boolean"),
                        "pcr": pd.array(pcr, dtype="Int8")}, index=[f"S{i}" for i in range(n)])
    scores = pd.DataFrame({"sample": obs.index, "signature": "SIG", "method": "zmean",
                           "score": score})
    return obs, scores


def test_multi_arm_trial_gives_one_treated_estimate_with_arm_as_covariate():
    obs, scores = _three_arm()
    design = CohortDesign("multi_arm_anti_her2", reference_arm="TH", trastuzumab_arms=["TH", "THL"])
    resp, _ = associate_cohort(obs, scores, cohort="t", design=design,
                               endpoints={"response": "pcr"}, roles={},
                               settings=Settings(adjust_for=[]))
    treated = resp[(resp.question == "within_trastuzumab") & (resp.model == "logistic")]
    assert len(treated) == 1 and bool(treated["pooled"].iloc[0])
    row = treated.iloc[0]
    assert row["subgroup"] == "HER2+ trastuzumab arms (TH, THL)"
    assert row["formula"] == "pcr ~ z(score) + arm[THL]" and row["covariates"] == "arm[THL]"
    m = obs["arm"].isin(["TH", "THL"]).to_numpy()
    s = scores["score"].to_numpy()[m]
    ref = _logit_ref(obs["pcr"].astype(int)[m], _z(s), (obs["arm"][m] == "THL").astype(float))
    assert row["effect"] == pytest.approx(np.exp(ref.params[1]), rel=1e-7)
    assert not resp.loc[resp.question == "within_arm", "pooled"].any()


def test_arm_interactions_name_both_arms_against_the_declared_reference():
    obs, scores = _three_arm()
    design = CohortDesign("multi_arm_anti_her2", reference_arm="TH", trastuzumab_arms=["TH", "THL"])
    resp, _ = associate_cohort(obs, scores, cohort="t", design=design,
                               endpoints={"response": "pcr"}, roles={},
                               settings=Settings(adjust_for=[]))
    inter = resp[resp.question == "arm_interaction"].set_index("subgroup")
    assert list(inter.index) == ["HER2+ arm THL vs TH", "HER2+ arm TL vs TH"]
    tl = inter.loc["HER2+ arm TL vs TH"]
    assert tl["formula"] == "pcr ~ z(score) * [arm TL vs TH]"
    m = obs["arm"].isin(["TH", "TL"]).to_numpy()
    z = _z(scores["score"].to_numpy()[m])
    t = (obs["arm"][m] == "TL").to_numpy(float)
    ref = _logit_ref(obs["pcr"].astype(int)[m], z, t, z * t)
    assert tl["effect"] == pytest.approx(np.exp(ref.params[3]), rel=1e-7)
    assert tl["effect"] > 1  # the planted effect is in the trastuzumab arms only
    assert tl["direction"] == "association of score with pCR more positive with TL than with TH"
    assert not inter["pooled"].any()
    undeclared, _ = associate_cohort(obs, scores, cohort="t", design="multi_arm_anti_her2",
                                     endpoints={"response": "pcr"}, roles={},
                                     settings=Settings(adjust_for=[]))
    notes = undeclared.loc[undeclared.question == "arm_interaction", "note"]
    assert notes.str.contains("reference arm not declared").all()


def test_mostly_untreated_cohort_splits_treated_subset_from_prognosis():
    obs, scores = _cohort(seed=13, design_arm=True)
    resp, _ = associate_cohort(obs, scores, cohort="u", design="not_trastuzumab_treated",
                               endpoints={"response": "pcr"}, roles={})
    by_q = resp[resp.model == "logistic"].set_index("question")
    her2 = obs["her2_status"] == "positive"
    treated = obs["trastuzumab"].astype(bool)
    assert by_q.loc["within_trastuzumab", "n"] == int((her2 & treated).sum())
    assert by_q.loc["prognosis", "n"] == int((her2 & ~treated).sum())
    assert by_q.loc["prognosis", "stratum"] == ("prognosis without recorded trastuzumab · "
                                                "treatment era unrecorded")


def test_declared_subset_of_a_configured_cohort_is_not_pooled():
    obs, scores = _cohort(seed=14)
    design = CohortDesign("trastuzumab_treated", parent="parent_cohort")
    resp, _ = associate_cohort(obs, scores, cohort="c", design=design,
                               endpoints={"response": "pcr"}, roles={})
    assert not resp["pooled"].any()
    assert resp["note"].str.contains("not pooled: a declared subset of parent_cohort").all()
    assert CohortDesign.from_manifest({"design": "trastuzumab_treated", "subset_of": "p"},
                                      ["c"]).parent is None  # parent not configured: pooled


def test_declared_arms_must_match_the_data_and_the_trastuzumab_field():
    from her2atlas.errors import Her2AtlasError

    obs, scores = _three_arm()
    typo = CohortDesign("multi_arm_anti_her2", reference_arm="TH", trastuzumab_arms=["TH", "THl"])
    with pytest.raises(Her2AtlasError) as info:
        associate_cohort(obs, scores, cohort="t", design=typo, endpoints={"response": "pcr"},
                         roles={})
    assert "arm(s) THl not among the data's arms" in str(info.value)
    assert "arms in the data: TH, THL, TL" in str(info.value)
    wrong = CohortDesign("multi_arm_anti_her2", reference_arm="TH", trastuzumab_arms=["TH", "TL"])
    with pytest.raises(Her2AtlasError, match="arm TL is declared to contain trastuzumab but its "
                                             r"trastuzumab field says \[False\]"):
        associate_cohort(obs, scores, cohort="t", design=wrong, endpoints={"response": "pcr"},
                         roles={})
    with pytest.raises(Her2AtlasError, match="needs the `trastuzumab` field"):
        subgroups(obs.drop(columns="trastuzumab"), "randomised_trastuzumab")


def test_treated_subset_of_a_mixed_era_cohort_is_of_the_trastuzumab_era():
    obs, scores = _cohort(seed=15, design_arm=True)
    design = CohortDesign("not_trastuzumab_treated", era="mixed")
    resp, _ = associate_cohort(obs, scores, cohort="u", design=design,
                               endpoints={"response": "pcr"}, roles={})
    eras = resp.groupby("question")["era"].unique().to_dict()
    assert list(eras["within_trastuzumab"]) == ["trastuzumab"]
    assert list(eras["prognosis"]) == ["mixed"]


def test_her2e_control_uses_published_and_called_pam50_and_firth_for_sparse_cells():
    import statsmodels.api as sm

    rng = np.random.default_rng(9)
    n = 80
    called = np.where(rng.random(n) < 0.3, "Her2", "LumB")
    published = np.where(rng.random(n) < 0.3, "HER2-enriched", "Luminal B")
    pcr = (rng.random(n) < np.where(called == "Her2", 0.6, 0.3)).astype(int)
    obs = pd.DataFrame({"her2_status": "positive", "er_status": "negative",
                        "pam50_called": called, "pam50": published,
                        "trastuzumab": pd.array([True] * n, dtype="boolean"),
                        "pcr": pd.array(pcr, dtype="Int8")}, index=[f"S{i}" for i in range(n)])
    scores = pd.DataFrame({"sample": obs.index, "signature": "SIG", "method": "zmean",
                           "score": rng.normal(size=n)})
    resp, _ = associate_cohort(obs, scores, cohort="p", design="trastuzumab_treated",
                               endpoints={"response": "pcr"}, roles={},
                               settings=Settings(adjust_for=[]))
    ctrl = resp[(resp.signature == "PAM50_HER2E") & (resp.model == "logistic")]
    assert set(ctrl["method"]) == {"pam50_called", "pam50_published"}
    assert (ctrl["role"] == "positive_control").all() and ctrl["pooled"].all()
    row = ctrl.set_index("method").loc["pam50_called"]
    x = (called == "Her2").astype(float)
    ref = sm.Logit(pcr, sm.add_constant(x)).fit(disp=0)
    assert row["effect"] == pytest.approx(np.exp(ref.params[1]), rel=1e-7)  # cells all >= 5
    assert row["formula"] == "pcr ~ her2_enriched" and row["effect_type"] == "OR HER2-E vs other"
    obs.loc[obs.index[(called == "Her2") & (pcr == 0)][2:], "pcr"] = 1  # leave 2 HER2-E non-pCR
    resp, _ = associate_cohort(obs, scores, cohort="p", design="trastuzumab_treated",
                               endpoints={"response": "pcr"}, roles={},
                               settings=Settings(adjust_for=[]))
    sparse = resp[(resp.signature == "PAM50_HER2E") & (resp.method == "pam50_called")
                  & (resp.model == "logistic")].iloc[0]
    assert sparse["estimator"] == "Firth (2 × 2 cell of 2)"
    assert sparse["ci_method"] == "profile penalised likelihood"
