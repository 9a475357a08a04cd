"""PAM50 from expression: genefu's nearest-centroid rule, agreement, real-data numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import cohen_kappa_score

from her2atlas import pam50

from conftest import MANIFEST_SCHEMA, REPO, SHARED_DATA, needs_shared

CENTROIDS = SHARED_DATA / "genesets" / "genefu_pam50_robust_centroids.tsv"


def _small_example() -> tuple[pd.DataFrame, pd.DataFrame]:
    """8 genes x 5 centroids and 6 samples x 8 genes (one missing value, one tie)."""
    rng = np.random.default_rng(7)
    genes = [f"G{i}" for i in range(8)]
    centroids = pd.DataFrame(rng.normal(size=(8, 5)), index=genes, columns=pam50.SUBTYPES)
    expression = pd.DataFrame(rng.normal(5, 2, size=(6, 8)).round(1), columns=genes,
                              index=[f"s{i}" for i in range(6)])
    expression.iloc[2, 3] = np.nan
    expression.iloc[4, 1] = expression.iloc[4, 2]  # tied values -> average ranks
    return expression, centroids


def test_caller_equals_genefu_rule_computed_with_scipy():
    expression, centroids = _small_example()
    result = pam50.call_pam50(expression, centroids, min_genes=5)
    # Independent reference: median-centre each gene (NaN skipped), Spearman per sample on the
    # complete genes (R cor(..., "spearman", use = "complete.obs")), first maximum wins.
    centred = expression - np.nanmedian(expression.to_numpy(), axis=0)
    for sample, row in centred.iterrows():
        ok = row.notna().to_numpy()
        rho = [spearmanr(row[ok], centroids.loc[ok, s]).statistic for s in pam50.SUBTYPES]
        np.testing.assert_allclose(result.correlations.loc[sample], rho, rtol=0, atol=1e-12)
        assert result.calls[sample] == pam50.SUBTYPES[int(np.argmax(rho))]
    assert result.genes_used == list(centroids.index) and result.note == ""


def test_robust_centring_is_genefus_rescale():
    expression, _ = _small_example()
    x = expression["G0"].to_numpy()
    # genefu: (rescale(x, q = 0.05) - 0.5) * 2, R quantile type 7 = numpy "linear"
    low, high = np.quantile(x, [0.025, 0.975])
    expected = ((x - low) / (high - low) - 0.5) * 2
    np.testing.assert_allclose(pam50.centre(expression, "robust")["G0"], expected, atol=1e-12)


def test_ties_go_to_the_first_subtype_like_r_order():
    centroids = pd.DataFrame({"Basal": [1.0, 2, 3, 4], "Her2": [1.0, 2, 3, 4],
                              "LumA": [4.0, 3, 2, 1], "LumB": [4.0, 3, 2, 1],
                              "Normal": [2.0, 1, 4, 3]}, index=["A", "B", "C", "D"])
    profiles = pd.DataFrame([[0.0, 1, 2, 3], [3.0, 2, 1, 0], [0.0, 1, 2, np.nan]],
                            columns=["A", "B", "C", "D"], index=["up", "down", "three_genes"])
    calls, cors = pam50.nearest_centroid(profiles, centroids, min_genes=4)
    assert calls.tolist() == ["Basal", "LumA", None]  # genefu needs more than 3 genes
    # Normal vs up: d = (1, -1, 1, -1), rho = 1 - 6 * 4 / (4 * 15) = 0.6
    np.testing.assert_allclose(cors.loc["up"], [1, 1, -1, -1, 0.6], atol=1e-12)
    assert cors.loc["three_genes"].isna().all()


def test_too_few_genes_is_refused_with_a_note():
    expression, centroids = _small_example()
    result = pam50.call_pam50(expression.iloc[:, :6], centroids, min_genes=7)
    assert result.calls.isna().all() and not result.called
    summary = result.summary()
    assert summary["status"] == "not_called" and summary["genes_used"] == 6
    assert summary["genes_total"] == 8 and summary["genes_missing"] == ["G6", "G7"]
    assert "6 of 8 PAM50 genes" in summary["note"] and "min_genes = 7" in summary["note"]
    assert summary["counts"]["NA"] == 6


def test_kappa_and_agreement_match_sklearn():
    published = pd.Series(["LumA", "Luminal A", "Basal-like", "Her2", "HER2-enriched", "LumB",
                           "Normal", "claudin-low", None, "LumB", "LumA", "Basal"])
    called = pd.Series(["LumA", "LumB", "Basal", "Her2", "LumA", "LumB", "LumA", "Basal",
                        "Her2", None, "LumA", "Her2"])
    result = pam50.agreement(published, called)
    keep = [0, 1, 2, 3, 4, 5, 6, 10, 11]
    mapped = ["LumA", "LumA", "Basal", "Her2", "Her2", "LumB", "Normal", "LumA", "Basal"]
    expected = cohen_kappa_score(mapped, called[keep].tolist())
    assert result["n"] == 9 and result["agree"] == 5
    assert result["percent"] == pytest.approx(55.56, abs=0.005)
    assert result["kappa"] == pytest.approx(expected, abs=5e-5)
    assert pam50.cohen_kappa(pd.Series(mapped), called[keep]) == pytest.approx(expected,
                                                                             abs=1e-12)
    assert result["published_excluded"] == {"claudin-low": 1}
    assert result["confusion"]["Her2"] == {"Basal": 0, "Her2": 1, "LumA": 1, "LumB": 0,
                                           "Normal": 0}


@needs_shared
def test_centroid_file_reads_with_current_symbols():
    centroids = pam50.read_centroids(CENTROIDS)
    assert centroids.shape == (50, 5) and list(centroids.columns) == list(pam50.SUBTYPES)
    assert {"NUF2", "NDC80", "ORC6"} <= set(centroids.index)
    assert not {"CDCA1", "KNTC2", "ORC6L"} & set(centroids.index)
    assert centroids.loc["ACTR3B", "Basal"] == pytest.approx(0.718331891, abs=1e-9)


def _real_cohort(cohort: str, tmp_path, **pam50_settings):
    from her2atlas.cohort import build_cohort, plain, qc_summary
    from her2atlas.fetch import fetch_all
    from her2atlas.manifest import load_manifest

    path = REPO / "workflow" / "cohorts" / f"{cohort}.yaml"
    manifest = load_manifest(path, MANIFEST_SCHEMA)
    raw = tmp_path / cohort
    fetched = fetch_all(manifest["files"], raw, data_roots=[SHARED_DATA])
    settings = {"centroids": CENTROIDS, "min_genes": 35, "centring": "median", **pam50_settings}
    adata = build_cohort(manifest, raw, manifest_file=str(path), fetched=fetched, pam50=settings)
    return adata, qc_summary(adata), plain(dict(adata.uns["provenance"]))


@needs_shared
def test_tcga_subset_agreement_with_published_pam50(tmp_path):
    adata, qc, _ = _real_cohort("tcga_brca_subset", tmp_path)
    summary = qc["pam50_called"]
    assert summary["genes_used"] == 50 and summary["status"] == "called"
    assert summary["counts"] == {"Basal": 33, "Her2": 19, "LumA": 40, "LumB": 15, "Normal": 8,
                                 "NA": 0}
    agree = summary["agreement"]
    # 114 of 115 tumours have a published call (TCGA subtype table)
    assert agree["n"] == 114 and agree["agree"] == 107
    assert agree["percent"] == pytest.approx(93.86, abs=0.005)
    published = pam50.harmonise_labels(adata.obs["pam50"].astype(object))
    both = published.notna()
    reference = cohen_kappa_score(published[both].tolist(),
                                  adata.obs["pam50_called"][both].astype(str).tolist())
    assert reference == pytest.approx(0.91637, abs=5e-5)
    assert agree["kappa"] == pytest.approx(reference, abs=5e-5)
    # one patient, one row: the patient id is the 12-character barcode, no patient twice
    assert (adata.obs["patient_id"].astype(str) == adata.obs_names).all()
    assert qc["replicates"]["patients"] == 115
    assert qc["replicates"]["patients_with_several_samples"] == 0
    # the published column is kept as it was
    assert adata.obs["pam50"].value_counts().to_dict() == {"LumA": 45, "Basal": 33, "LumB": 15,
                                                           "Her2": 17, "Normal": 4}


@needs_shared
def test_scanb_subset_agreement_and_refusal(tmp_path):
    adata, qc, _ = _real_cohort("scanb_gse96058_subset", tmp_path / "a")
    summary = qc["pam50_called"]
    assert summary["genes_used"] == 38
    assert summary["counts"] == {"Basal": 80, "Her2": 66, "LumA": 117, "LumB": 81, "Normal": 56,
                                 "NA": 0}
    agree = summary["agreement"]
    assert agree["n"] == 400 and agree["agree"] == 282
    assert agree["percent"] == pytest.approx(70.5, abs=0.005)
    published = adata.obs["pam50"].astype(str).tolist()
    reference = cohen_kappa_score(published, adata.obs["pam50_called"].astype(str).tolist())
    assert reference == pytest.approx(0.61027, abs=5e-5)
    assert agree["kappa"] == pytest.approx(reference, abs=5e-5)
    # genefu's robust scaling, for comparison (documented in pam50.py)
    _, robust, _ = _real_cohort("scanb_gse96058_subset", tmp_path / "b", centring="robust")
    assert robust["pam50_called"]["agreement"]["agree"] == 350
    # with a stricter minimum the cohort is refused: NA calls and a note saying why
    adata, qc, provenance = _real_cohort("scanb_gse96058_subset", tmp_path / "c", min_genes=40)
    assert adata.obs["pam50_called"].isna().all()
    assert qc["pam50_called"]["status"] == "not_called"
    assert qc["pam50_called"]["agreement"] == "NA"
    assert "38 of 50 PAM50 genes" in qc["pam50_called"]["note"]
    assert any("38 of 50 PAM50 genes" in w for w in provenance["warnings"])
