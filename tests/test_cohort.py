"""Building a harmonised cohort from a manifest and fetched files."""

from __future__ import annotations

import numpy as np
import pytest

from her2atlas.cohort import build_cohort, check_counts, plain
from her2atlas.errors import CountMismatchError
from her2atlas.fetch import fetch_all
from her2atlas.manifest import load_manifest

from conftest import MANIFEST_SCHEMA, REPO


def _build(demo_dir, tmp_path, cohort="demo_neoadjuvant_a", mutate=None, **kw):
    path = REPO / "workflow" / "cohorts" / f"{cohort}.yaml"
    manifest = load_manifest(path, MANIFEST_SCHEMA)
    if mutate:
        mutate(manifest)
    raw = tmp_path / "raw" / cohort
    fetched = fetch_all(manifest["files"], raw, data_roots=[demo_dir])
    return build_cohort(manifest, raw, manifest_file=str(path), fetched=fetched, **kw)


def test_demo_counts_cohort_is_log2_cpm_with_provenance(demo_dir, tmp_path):
    adata = _build(demo_dir, tmp_path)
    assert adata.n_obs == 140 and adata.X.dtype == np.float32
    assert adata.var_names.is_unique
    # log2(CPM + 1): each sample's CPMs sum to 1e6 before the log
    cpm_sums = (np.exp2(adata.X.astype(float)) - 1).sum(axis=1)
    np.testing.assert_allclose(cpm_sums, 1e6, rtol=1e-4)
    prov = plain(dict(adata.uns["provenance"]))
    assert prov["transformations"]["units"] == "counts"
    assert prov["synthetic"] is True and prov["design"] == "trastuzumab_treated"
    assert [f["name"] for f in prov["files"]] == ["expression.tsv.gz", "clinical.tsv"]
    assert adata.uns["counts"]["pcr_events"] == 57
    assert set(adata.obs["her2_status"].astype(str)) == {"positive"}


def test_count_mismatch_fails_with_expected_vs_found_table(demo_dir, tmp_path):
    def wrong(m):
        m["expected"]["pcr_events"] = 60
        m["expected"]["samples"] = 141
    with pytest.raises(CountMismatchError) as info:
        _build(demo_dir, tmp_path, mutate=wrong)
    text = str(info.value)
    assert "pcr_events" in text and "expected     60" in text and "found     57" in text
    assert "samples" in text and "141" in text and "demo_neoadjuvant_a.yaml" in text


def test_count_mismatch_can_be_a_warning(demo_dir, tmp_path):
    adata = _build(demo_dir, tmp_path, mutate=lambda m: m["expected"].update(samples=1),
                   on_count_mismatch="warn")
    warnings = plain(dict(adata.uns["provenance"]))["warnings"]
    assert any("samples expected 1, found 140" in w for w in warnings)


def test_check_counts_reports_unavailable_counts():
    with pytest.raises(CountMismatchError, match="not available"):
        check_counts({"samples": 3}, {"os_events": 2}, manifest_file="m.yaml")


def test_sample_filter_leaving_nothing_is_refused(demo_dir, tmp_path):
    from her2atlas.errors import Her2AtlasError

    with pytest.raises(Her2AtlasError, match="leaves no samples"):
        _build(demo_dir, tmp_path, mutate=lambda m: m.update(sample_filter={"her2_status":
                                                                             ["negative"]}))


# --- one patient, one row -------------------------------------------------------------------

def _replicate_cohort(tmp_path, replicates=None, *, er_of_p2b="ER+", patient_field=None):
    """A constructed 6-sample cohort: patient P2 has 3 samples, P4 has 2, P1 one, S6 none."""
    import pandas as pd

    samples = ["s1", "s2a", "s2b", "s2c", "s4a", "s4b"]
    genes = ["G1", "G2", "G3"]
    values = np.array([[1.0, 2.0, 4.0, 6.0, 3.0, 5.0],
                       [0.0, 1.0, 1.0, 4.0, 2.0, 2.0],
                       [5.0, 5.0, 7.0, np.nan, 8.0, 9.0]])
    expr = pd.DataFrame(values, index=genes, columns=samples)
    expr.index.name = "gene"
    expr.to_csv(tmp_path / "expression.tsv", sep="\t")
    clin = pd.DataFrame({"sample_id": samples, "patient": ["P1", "P2", "P2", "P2", "P4", "P4"],
                         "er": ["ER-", "ER+", er_of_p2b, "", "ER+", "ER+"],
                         "response": ["pCR", "RD", "RD", "RD", "pCR", "pCR"]})
    clin.to_csv(tmp_path / "clinical.tsv", sep="\t", index=False)
    fields = {"er_status": {"table": "clin", "column": "er",
                            "map": {"ER+": "positive", "ER-": "negative"}},
              "pcr": {"table": "clin", "column": "response", "map": {"pCR": 1, "RD": 0}},
              "patient_id": patient_field or {"table": "clin", "column": "patient"}}
    manifest = {"id": "constructed", "source": {"kind": "files"}, "design": "trastuzumab_treated",
                "files": [{"name": "expression.tsv"}, {"name": "clinical.tsv"}],
                "expression": {"files": ["expression.tsv"], "orientation": "genes_by_samples",
                               "gene_column": "gene", "units": "log2"},
                "clinical": {"tables": {"clin": {"file": "clinical.tsv",
                                                 "id_column": "sample_id"}},
                             "fields": fields}}
    if replicates:
        manifest["replicates"] = replicates
    adata = build_cohort(manifest, tmp_path, manifest_file="constructed.yaml")
    return adata, expr


def test_replicates_first_keeps_the_first_sample_per_patient(tmp_path):
    from her2atlas.cohort import qc_summary

    adata, expr = _replicate_cohort(tmp_path, {"rule": "first", "description": "test"})
    assert list(adata.obs_names) == ["s1", "s2a", "s4a"]
    np.testing.assert_array_equal(adata.X, expr[["s1", "s2a", "s4a"]].T.to_numpy())
    prov = plain(dict(adata.uns["provenance"]))["replicates"]
    assert prov["rule"] == "first" and prov["samples_removed"] == 3
    assert prov["patients"] == 3 and prov["patients_with_several_samples"] == 2
    assert prov["examples"] == ["P2: s2a, s2b, s2c", "P4: s4a, s4b"]
    assert qc_summary(adata)["replicates"]["samples_removed"] == 3
    assert adata.uns["counts"]["samples"] == 3


def test_replicates_mean_averages_expression_and_merges_clinical(tmp_path):
    adata, _ = _replicate_cohort(tmp_path, {"rule": "mean"})
    assert list(adata.obs_names) == ["s1", "s2a", "s4a"]
    # P2: G1 mean(2, 4, 6) = 4, G2 mean(1, 1, 4) = 2, G3 mean(5, 7) = 6 (NaN skipped)
    np.testing.assert_allclose(adata.X[1], [4.0, 2.0, 6.0])
    np.testing.assert_allclose(adata.X[2], [4.0, 2.0, 8.5])
    assert adata.obs.loc["s2a", "er_status"] == "positive"
    assert int(adata.obs.loc["s4a", "pcr"]) == 1
    assert plain(dict(adata.uns["provenance"]))["replicates"]["rule"] == "mean"


def test_replicates_mean_refuses_disagreeing_clinical_fields(tmp_path):
    from her2atlas.errors import Her2AtlasError

    with pytest.raises(Her2AtlasError, match="replicates of patient 'P2'.*er_status") as info:
        _replicate_cohort(tmp_path, {"rule": "mean"}, er_of_p2b="ER-")
    assert "s2a, s2b, s2c" in str(info.value) and "rule: first" in str(info.value)


def test_duplicated_patients_without_a_rule_are_kept_with_a_warning(tmp_path):
    adata, _ = _replicate_cohort(tmp_path)
    assert adata.n_obs == 6
    prov = plain(dict(adata.uns["provenance"]))
    assert prov["replicates"]["rule"] == "none"
    assert prov["replicates"]["patients_with_several_samples"] == 2
    assert any(w.startswith("2 patient(s) have several samples (5 samples") and
               "no 'replicates' rule" in w for w in prov["warnings"])


def test_replicates_rule_needs_a_patient_id():
    import pandas as pd

    from her2atlas.cohort import collapse_replicates
    from her2atlas.errors import Her2AtlasError

    obs = pd.DataFrame({"er_status": ["positive"]}, index=["s1"])
    with pytest.raises(Her2AtlasError, match="no patient_id is mapped"):
        collapse_replicates(pd.DataFrame({"s1": [1.0]}), obs, {"rule": "first"},
                            manifest_file="m.yaml")


def test_patient_id_extracted_from_sample_ids_by_regex_template(tmp_path):
    # TCGA style: the first 12 characters of a sample barcode name the patient
    field = {"table": "expression_samples", "column": "sample_id",
             "regex": [["^(s\\d)", "P\\1"]]}
    adata, _ = _replicate_cohort(tmp_path, {"rule": "first"}, patient_field=field)
    assert adata.obs["patient_id"].astype(str).tolist() == ["Ps1", "Ps2", "Ps4"]
    prov = plain(dict(adata.uns["provenance"]))
    assert prov["replicates"]["examples"] == ["Ps2: s2a, s2b, s2c", "Ps4: s4a, s4b"]
