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
