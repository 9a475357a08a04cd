"""The four real offline cohorts end to end, read in place from ../shared/data."""

from __future__ import annotations

import json
import re

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from conftest import needs_shared

pytestmark = [pytest.mark.pipeline, pytest.mark.realdata, needs_shared]

EXPECTED = {  # from each folder's PROVENANCE.md
    "gse42822_trastuzumab": {"samples": 25, "her2_positive": 25, "trastuzumab": 25,
                             "pcr_labelled": 25, "pcr_events": 12},
    "transneo_her2": {"samples": 65, "her2_positive": 63, "er_positive": 51, "trastuzumab": 65,
                      "pcr_events": 19, "pcr_labelled": 62},
    "tcga_brca_subset": {"samples": 115, "her2_positive": 39, "os_labelled": 115},
    "scanb_gse96058_subset": {"samples": 400, "her2_positive": 42, "er_positive": 300,
                              "os_labelled": 400, "os_events": 48},
}
# hypothesis sets of config.yaml scored by the gene-set methods (MALTA2018_MRNASI: mrnasi only)
HYPOTHESIS_SETS = ["HALLMARK_IL6_JAK_STAT3_SIGNALING", "BENPORATH_ES_1", "BENPORATH_NOS_TARGETS",
                   "BENPORATH_PRC2_TARGETS", "PECE_MAMMARY_STEM_CELL_UP",
                   "LIM_MAMMARY_STEM_CELL_UP", "LIM_MAMMARY_STEM_CELL_UP_DN",
                   "KORKAYA2012_IL6_LOOP"]


@pytest.mark.parametrize("cohort", list(EXPECTED))
def test_cohort_counts(real_run, cohort):
    adata = ad.read_h5ad(real_run / f"results/cohorts/{cohort}.h5ad", backed="r")
    counts = dict(adata.uns["counts"])
    for key, value in EXPECTED[cohort].items():
        assert counts[key] == value, key
    qc = json.loads((real_run / f"results/qc/{cohort}.json").read_text())
    assert qc["n_samples"] == EXPECTED[cohort]["samples"]


def test_il6_loop_scores_everywhere_and_coverage_is_reported(real_run):
    for cohort in EXPECTED:
        cov = pd.read_csv(real_run / f"results/scores/{cohort}.coverage.tsv", sep="\t")
        row = cov.set_index("signature").loc["KORKAYA2012_IL6_LOOP"]
        assert bool(row["scored"]), cohort
        hallmark = cov.set_index("signature").loc["HALLMARK_IL6_JAK_STAT3_SIGNALING"]
        assert hallmark["genes_in_set"] == 87
    cov = pd.read_csv(real_run / "results/scores/gse42822_trastuzumab.coverage.tsv", sep="\t")
    assert cov.set_index("signature").loc["HALLMARK_IL6_JAK_STAT3_SIGNALING", "genes_used"] >= 80
    scores = pd.read_csv(real_run / "results/scores/transneo_her2.tsv", sep="\t")
    korkaya = scores[scores.signature == "KORKAYA2012_IL6_LOOP"]
    # IL6 itself is absent from the TransNEO subset: 8 of 9 genes, still scored by every method
    assert (korkaya["genes_used"] == 8).all() and korkaya["score"].notna().all()
    # combined_z is not a default method (it would only duplicate zmean for plain sets)
    assert set(korkaya["method"]) == {"zmean", "singscore", "ssgsea", "gsva"}
    mrnasi = scores[scores.signature == "MALTA2018_MRNASI"]
    assert mrnasi["score"].between(-1, 1).all() and len(mrnasi) == 65


def test_null_tables(real_run):
    null = pd.read_csv(real_run / "results/null/transneo_her2.tsv", sep="\t")
    assert (null["n_random"] == 1000).all() and null["p_empirical"].between(0, 1).all()
    assert set(null["endpoint"]) == {"pcr"}


# Analysed HER2+ samples and events per cohort and endpoint, from ../shared/data/*/PROVENANCE.md
# and, for the survival events, counted in the raw files with pandas:
#   GSE42822: 25 HER2+ trastuzumab-treated, pCR label for all 25, 12 pCR.
#   TransNEO: 63 HER2+ (T126, T173 are HER2-), 3 of them without pCR.RD -> 60, 19 pCR / 41 RD.
#   TCGA: 39 HER2-IHC+ of the 115; TCGA-CDR OS and PFI for all -> 6 OS and 6 PFI events.
#   SCAN-B: 42 her2_status == 1 of the 400; overall_survival_event sums to 6 among them.
ANALYSED = {
    ("gse42822_trastuzumab", "pcr"): (25, 12),
    ("transneo_her2", "pcr"): (60, 19),
    ("tcga_brca_subset", "os"): (39, 6),
    ("tcga_brca_subset", "pfi"): (39, 6),
    ("scanb_gse96058_subset", "os"): (42, 6),
}
# the question each cohort's HER2+ rows answer (trastuzumab-treated designs vs treatment
# unrecorded); positive-control rows (PAM50_HER2E) have no score in the scores TSV
QUESTION = {"gse42822_trastuzumab": "within_trastuzumab", "transneo_her2": "within_trastuzumab",
            "tcga_brca_subset": "prognosis", "scanb_gse96058_subset": "prognosis"}
TOL = 1e-6  # relative, for estimate, SE, ratio, CI bounds and p


def _floats(series: pd.Series) -> np.ndarray:
    return pd.to_numeric(series, errors="coerce").to_numpy(float)


def _analysed_inputs(run, cohort: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """obs of the cohort and its scores as a (sample x (signature, method)) table."""
    obs = ad.read_h5ad(run / f"results/cohorts/{cohort}.h5ad", backed="r").obs
    scores = pd.read_csv(run / f"results/scores/{cohort}.tsv", sep="\t")
    scores = scores[scores["score"].notna()]
    wide = scores.pivot(index="sample", columns=["signature", "method"], values="score")
    return obs, wide.reindex(obs.index)


def _subgroup(obs: pd.DataFrame, question: str) -> np.ndarray:
    """HER2+ samples; within_trastuzumab keeps the trastuzumab-treated ones."""
    mask = (obs["her2_status"].astype(object) == "positive").to_numpy(bool)
    if question == "within_trastuzumab":
        mask &= obs["trastuzumab"].astype("boolean").fillna(False).to_numpy(bool)
    return mask


def _z(x: np.ndarray) -> np.ndarray:
    """Standardised within the analysed samples (sample SD, ddof = 1), as association.py does."""
    return (x - x.mean()) / np.std(x, ddof=1)


def _rows(run, cohort: str, table: str, model: str) -> pd.DataFrame:
    """The cohort's ``model`` rows for its question, positive-control (PAM50 call) rows aside."""
    rows = pd.read_csv(run / f"results/stats/{cohort}/{table}.tsv", sep="\t")
    return rows[(rows["model"] == model) & (rows["question"] == QUESTION[cohort])
                & (rows["role"] != "positive_control")]


def _compare(row: pd.Series, b: float, se: float, lo: float, hi: float, p: float) -> None:
    """The row's log effect, SE, ratio, CI and p against the reference fit's."""
    got = [row["log_effect"], row["se"], row["effect"], row["ci_low"], row["ci_high"], row["p"]]
    ref = [b, se, np.exp(b), np.exp(lo), np.exp(hi), p]
    np.testing.assert_allclose(np.asarray(got, float), ref, rtol=TOL, atol=0,
                               err_msg=f"{row['cohort']} {row.name} {row['model']}")


@pytest.mark.parametrize("cohort", ["gse42822_trastuzumab", "transneo_her2"])
def test_logistic_rows_equal_statsmodels(real_run, cohort):
    """Every unadjusted logistic row refitted with statsmodels Logit on the same samples."""
    import statsmodels.api as sm

    obs, wide = _analysed_inputs(real_run, cohort)
    rows = _rows(real_run, cohort, "response", "logistic").set_index(["signature", "method"])
    # one row per scored signature x method, every one ML (>= 10 pCR and >= 10 non-pCR)
    assert sorted(rows.index) == sorted(wide.columns)
    assert (rows["estimator"] == "ML").all()
    y_all = _floats(obs["pcr"])
    for (signature, method), row in rows.iterrows():
        s = wide[(signature, method)].to_numpy(float)
        m = _subgroup(obs, QUESTION[cohort]) & np.isfinite(y_all) & np.isfinite(s)
        y = y_all[m]
        assert (row["n"], row["events"]) == ANALYSED[(cohort, "pcr")] == (m.sum(), y.sum())
        fit = sm.Logit(y, sm.add_constant(_z(s[m]))).fit(method="newton", tol=1e-12,
                                                         maxiter=100, disp=0)
        lo, hi = fit.conf_int()[1]
        _compare(row, fit.params[1], fit.bse[1], lo, hi, fit.pvalues[1])


@pytest.mark.parametrize("cohort", ["transneo_her2"])
def test_auc_rows_equal_mann_whitney(real_run, cohort):
    """AUC = U / (n1 n0) from scipy's Mann-Whitney U, on the same samples (raw score)."""
    from scipy.stats import mannwhitneyu

    obs, wide = _analysed_inputs(real_run, cohort)
    rows = _rows(real_run, cohort, "response", "auc").set_index(["signature", "method"])
    assert sorted(rows.index) == sorted(wide.columns)
    y_all = _floats(obs["pcr"])
    for (signature, method), row in rows.iterrows():
        s = wide[(signature, method)].to_numpy(float)
        m = _subgroup(obs, QUESTION[cohort]) & np.isfinite(y_all) & np.isfinite(s)
        pcr, rd = s[m][y_all[m] == 1], s[m][y_all[m] == 0]
        u = mannwhitneyu(pcr, rd, alternative="two-sided")
        # the TSV holds 10 significant digits
        assert row["effect"] == pytest.approx(u.statistic / (len(pcr) * len(rd)), rel=1e-9)
        assert row["p"] == pytest.approx(u.pvalue, rel=1e-9)


@pytest.mark.parametrize("cohort", ["tcga_brca_subset", "scanb_gse96058_subset"])
def test_cox_rows_equal_statsmodels(real_run, cohort):
    """Every unadjusted Cox row refitted with statsmodels PHReg (Breslow ties)."""
    import statsmodels.api as sm

    obs, wide = _analysed_inputs(real_run, cohort)
    rows = _rows(real_run, cohort, "survival", "cox")
    endpoints = sorted(e for c, e in ANALYSED if c == cohort)
    assert sorted(set(rows["endpoint"])) == endpoints
    rows = rows.set_index(["endpoint", "signature", "method"])
    assert sorted(rows.index) == sorted((e, *pair) for e in endpoints for pair in wide.columns)
    for (endpoint, signature, method), row in rows.iterrows():
        time, event = _floats(obs[f"{endpoint}_time"]), _floats(obs[f"{endpoint}_event"])
        s = wide[(signature, method)].to_numpy(float)
        m = (_subgroup(obs, QUESTION[cohort]) & np.isfinite(time) & np.isfinite(event)
             & np.isfinite(s))
        assert (row["n"], row["events"]) == ANALYSED[(cohort, endpoint)] == (m.sum(),
                                                                            event[m].sum())
        fit = sm.PHReg(time[m], _z(s[m])[:, None], status=event[m], ties="breslow").fit(
            method="newton", tol=1e-12, maxiter=100)
        lo, hi = fit.conf_int()[0]
        _compare(row, fit.params[0], fit.bse[0], lo, hi, fit.pvalues[0])
        # the PH flag is the stated rule applied to the reported PH p (config ph_alpha 0.05)
        assert np.isfinite(row["ph_p"]) and bool(row["ph_flag"]) == (row["ph_p"] < 0.05)


def test_every_gap_says_why_and_the_primary_pools_the_treated_cohorts(real_run):
    for cohort, table in [("transneo_her2", "response"), ("scanb_gse96058_subset", "survival")]:
        rows = pd.read_csv(real_run / f"results/stats/{cohort}/{table}.tsv", sep="\t")
        fitted = rows["effect"].notna()
        notes = rows["note"].fillna("").astype(str)
        assert notes[~fitted].str.len().gt(0).all()  # no silent NaN: every gap says why
    meta = pd.read_csv(real_run / "results/meta/response.tsv", sep="\t")
    row = meta[(meta.signature == "KORKAYA2012_IL6_LOOP") & (meta.method == "zmean")
               & (meta.model == "logistic") & (meta.question == "within_trastuzumab")]
    assert len(row) == 1
    row = row.iloc[0]
    assert row["k"] == 2 and row["cohorts"] == "gse42822_trastuzumab,transneo_her2"
    assert row["analysis"] == "primary"


def test_report_covers_every_cohort(real_run):
    index = (real_run / "results/report/index.html").read_text()
    for cohort in EXPECTED:
        assert f'href="cohort_{cohort}.html"' in index
        page = (real_run / f"results/report/cohort_{cohort}.html").read_text()
        assert 'id="coverage"' in page
    assert "Forest plots" in index and "HALLMARK_IL6_JAK_STAT3_SIGNALING" in index
    assert "SYNTHETIC" not in index
    # one Kaplan-Meier figure (a PNG file) per survival endpoint x hypothesis set scored by
    # zmean in TCGA (MALTA2018_MRNASI is scored by mrnasi only), split at the median
    page = (real_run / "results/report/cohort_tcga_brca_subset.html").read_text()
    found = re.findall(r'<img src="(figures/[\w.-]+\.png)" alt="Kaplan-Meier '
                       r'(\w+) by (\w+) above vs at/below the median in tcga_brca_subset"',
                       page)
    assert sorted((e, s) for _, e, s in found) == sorted(
        (e, s) for e in ("os", "pfi") for s in HYPOTHESIS_SETS)
    report = real_run / "results/report"
    assert all((report / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for png, _, _ in found)
    assert page.count("(pre-specified split), numbers at risk below.") == len(found)
