"""The four real offline cohorts end to end, read in place from ../shared/data."""

from __future__ import annotations

import json

import anndata as ad
import pandas as pd
import pytest

from conftest import needs_shared

pytestmark = [pytest.mark.pipeline, pytest.mark.realdata, needs_shared]

EXPECTED = {  # from each folder's PROVENANCE.md
    "gse42822_trastuzumab": {"samples": 25, "her2_positive": 25, "pcr_events": 12},
    "transneo_her2": {"samples": 65, "her2_positive": 63, "pcr_events": 19, "pcr_labelled": 62},
    "tcga_brca_subset": {"samples": 115, "her2_positive": 39, "os_labelled": 115},
    "scanb_gse96058_subset": {"samples": 400, "her2_positive": 42, "os_events": 48},
}


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
    assert set(korkaya["method"]) == {"zmean", "combined_z", "singscore", "ssgsea", "gsva"}
    mrnasi = scores[scores.signature == "MALTA2018_MRNASI"]
    assert mrnasi["score"].between(-1, 1).all() and len(mrnasi) == 65


def test_null_tables(real_run):
    null = pd.read_csv(real_run / "results/null/transneo_her2.tsv", sep="\t")
    assert (null["n_random"] == 1000).all() and null["p_empirical"].between(0, 1).all()
    assert set(null["endpoint"]) == {"pcr"}


def test_statistics_are_sensible(real_run):
    resp = pd.read_csv(real_run / "results/stats/transneo_her2/response.tsv", sep="\t")
    # 63 HER2+: 3 without pCR.RD, so 60 analysed (19 pCR / 41 RD); the 2 HER2- (both RD) are out
    assert (resp["n"] == 60).all() and (resp["events"] == 19).all()
    assert resp.loc[resp.model != "auc", "effect"].notna().any()
    surv = pd.read_csv(real_run / "results/stats/scanb_gse96058_subset/survival.tsv", sep="\t")
    assert set(surv["endpoint"]) == {"os"} and (surv["n"] == 42).all()
    for table in (resp, surv):
        fitted = table["effect"].notna()
        notes = table["note"].fillna("").astype(str)
        assert notes[~fitted].str.len().gt(0).all()  # no silent NaN: every gap says why
    meta = pd.read_csv(real_run / "results/meta/response.tsv", sep="\t")
    row = meta[(meta.signature == "KORKAYA2012_IL6_LOOP") & (meta.method == "zmean")
               & (meta.model == "logistic")].iloc[0]
    assert row["k"] == 2 and row["cohorts"] == "gse42822_trastuzumab,transneo_her2"
    assert row["interval"] == "HKSJ t(1)" and row["analysis"] == "primary"
    cox = pd.read_csv(real_run / "results/stats/tcga_brca_subset/survival.tsv", sep="\t")
    fitted = cox[(cox.model == "cox") & cox.effect.notna()]
    assert fitted["ph_p"].between(0, 1).all()


def test_report_covers_every_cohort(real_run):
    index = (real_run / "results/report/index.html").read_text()
    for cohort in EXPECTED:
        assert f'href="cohort_{cohort}.html"' in index
        page = (real_run / f"results/report/cohort_{cohort}.html").read_text()
        assert 'id="coverage"' in page
    assert "Forest plots" in index and "HALLMARK_IL6_JAK_STAT3_SIGNALING" in index
    assert "SYNTHETIC" not in index
    kaplan = (real_run / "results/report/cohort_tcga_brca_subset.html").read_text()
    assert "numbers at risk" in kaplan or "Kaplan" in kaplan
