"""The public-scale stand-ins (her2atlas.scale): shapes read from the manifests, and stand-ins
that the cohort builder accepts with the written counts."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
import yaml

from her2atlas import scale
from her2atlas.cohort import build_cohort
from her2atlas.manifest import load_manifest

from conftest import MANIFEST_SCHEMA, REPO


def _manifest(cohort: str) -> dict:
    return yaml.safe_load((REPO / "workflow/cohorts" / f"{cohort}.yaml").read_text())


def test_shape_takes_counts_platform_and_endpoints_from_the_manifest():
    noah = scale.shape_from_manifest(_manifest("gse50948_noah"))
    assert (noah.samples, noah.genes, noah.units) == (156, 20188, "log2")  # GPL570, units auto
    assert noah.her2_frac == pytest.approx(114 / 156, abs=1e-15)
    assert noah.trastuzumab_frac == pytest.approx(63 / 156, abs=1e-15)
    assert (noah.pcr, noah.survival, noah.design) == (True, [], "randomised_trastuzumab")
    assert noah.notes == ["genes (GPL570): 20,188, distinct symbols in the Bioconductor probe table"]
    dmfs = scale.shape_from_manifest(_manifest("gse58984"))
    assert (dmfs.samples, dmfs.her2_frac, dmfs.pcr, dmfs.survival) == (94, 1.0, False, ["dmfs"])


def test_shape_without_expected_counts_uses_the_documented_numbers_and_says_so():
    metabric = scale.shape_from_manifest(_manifest("metabric"))
    assert (metabric.samples, metabric.genes, metabric.units) == (1904, 24368, "log2")
    assert metabric.her2_frac == pytest.approx(247 / 1980, abs=1e-15)
    assert metabric.survival == ["os", "dss"] and metabric.pam50
    assert metabric.notes[0].startswith("samples: about 1,900")
    tcga = scale.shape_from_manifest(_manifest("tcga_brca_pancan"))
    # HER2 comes from the legacy clinical table (manifest field with a fallback); the share
    # is the mirror's IHC-positive count, 164 of 1,090 patients (TCGA-BRCA PROVENANCE.md)
    assert (tcga.her2_frac, tcga.units) == (164 / 1090, "tpm")
    assert tcga.notes[0].startswith("samples: PanCancer Atlas BRCA mRNA samples")
    no_her2 = {**_manifest("gse37946"), "clinical": {"fields": {}}}
    assert scale.shape_from_manifest(no_her2).her2_frac is None
    scanb = scale.shape_from_manifest(_manifest("scanb_gse96058"))
    assert (scanb.samples, scanb.genes, scanb.units) == (3273, 30865, "log2_fpkm")
    doc = {**_manifest("gse37946"), "id": "unknown_cohort", "expected": {}}
    with pytest.raises(ValueError, match="unknown_cohort.yaml: no expected.samples"):
        scale.shape_from_manifest(doc)


def test_scaled_keeps_genes_and_has_a_floor():
    shape = scale.shape_from_manifest(_manifest("scanb_gse96058"))
    assert (scale.scaled(shape, 0.1).samples, scale.scaled(shape, 0.1).genes) == (327, 30865)
    assert scale.scaled(shape, 0.001).samples == 20
    assert shape.samples == 3273  # the original is not changed


def test_gene_names_put_signature_genes_first_and_fill_to_the_platform_size():
    assert scale.gene_names(["IL6", "STAT3", "IL6"], 5) == ["IL6", "STAT3", "FILL00001",
                                                           "FILL00002", "FILL00003"]
    assert scale.gene_names(["A", "B", "C"], 2) == ["A", "B"]


@pytest.mark.parametrize("cohort", ["gse50948_noah", "gse66305_cherlob", "metabric",
                                    "tcga_brca_pancan"])
def test_stand_in_builds_with_its_expected_counts(cohort, tmp_path):
    shape = scale.scaled(scale.shape_from_manifest(_manifest(cohort)), 0.0)  # 20 samples
    shape.genes = 300
    manifest = scale.write_stand_in(tmp_path, shape, ["IL6", "STAT3", "ESR1"])
    path = tmp_path / f"{cohort}.yaml"
    path.write_text(yaml.safe_dump(manifest))
    loaded = load_manifest(path, MANIFEST_SCHEMA, geo_base_url="https://example.org")
    adata = build_cohort(loaded, tmp_path / cohort, manifest_file=str(path))  # checks expected
    assert adata.shape == (20, 300)
    assert list(adata.var_names[:3]) == ["IL6", "STAT3", "ESR1"]
    clin = pd.read_csv(tmp_path / cohort / "clinical.tsv", sep="\t")
    if shape.her2_frac is None:
        assert "her2" not in clin.columns and "her2_positive" not in manifest["expected"]
    else:
        assert manifest["expected"]["her2_positive"] == (clin["her2"] == "HER2+").sum()
        assert (adata.obs["her2_status"] == "positive").sum() == (clin["her2"] == "HER2+").sum()
    for endpoint in shape.survival:
        assert adata.obs[f"{endpoint}_event"].notna().all()
    if shape.pcr:
        assert set(adata.obs["pcr"].dropna().astype(int)) == {0, 1}


def test_stand_in_is_seeded_by_the_cohort_id(tmp_path):
    shape = scale.scaled(scale.shape_from_manifest(_manifest("gse70233")), 1.0)  # 22 samples
    shape.genes = 50
    scale.write_stand_in(tmp_path / "a", shape, [])
    scale.write_stand_in(tmp_path / "b", shape, [])
    read = [pd.read_csv(gzip.open(tmp_path / d / "gse70233/expression.tsv.gz"), sep="\t",
                        index_col=0) for d in ("a", "b")]
    assert read[0].shape == (50, 22)
    assert np.array_equal(read[0].to_numpy(), read[1].to_numpy())


def _public_scale():
    import importlib
    import sys

    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        return importlib.import_module("public_scale")
    finally:
        sys.path.remove(str(REPO / "benchmarks"))


def test_rule_table_maps_benchmark_files_to_rules_literal_files_first(tmp_path):
    ps = _public_scale()
    import shutil

    shutil.copytree(REPO / "workflow/rules", tmp_path / "workflow/rules")
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    files = {"fetch/_signatures.tsv": (1.0, 10, 0.5), "fetch/c1.tsv": (2.0, 20, 1.0),
             "fetch/c2.tsv": (3.0, 30, 1.5), "genes/pooled.tsv": (4.0, 40, 3.0),
             "genes/c1.tsv": (5.0, 50, 4.0), "score/c1.tsv": (6.0, 60, 9.0)}
    for rel, (wall, rss, cpu) in files.items():
        path = tmp_path / "logs/benchmarks" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(header + f"{wall}\t0:00:0{int(wall)}\t{rss}\t0\t0\t0\t0\t0\t0\t{cpu}\n")
    table = ps.rule_table(tmp_path)
    assert table.loc["fetch_signatures", "jobs"] == 1
    assert (table.loc["fetch", "jobs"], table.loc["fetch", "wall"]) == (2, 5.0)
    assert (table.loc["fetch", "longest"], table.loc["fetch", "longest_job"]) == (3.0, "c2")
    assert (table.loc["genes", "jobs"], table.loc["genes_cohort", "jobs"]) == (1, 1)
    assert (table.loc["score", "cpu"], table.loc["score", "peak"]) == (9.0, 60)
    assert "report" not in table.index  # no benchmark file, no row
    patterns = ps.rule_patterns(tmp_path / "workflow/rules")
    assert (patterns["score"][1], patterns["report"][1]) == (1, 2)  # the declared threads


def test_write_readme_replaces_only_its_section(tmp_path):
    ps = _public_scale()
    readme = tmp_path / "README.md"
    readme.write_text("# B\n\n## `scoring.py` — x\n\nscoring text\n\n## `pipeline.py` — y\n\n"
                      "pipeline text\n\n## `calibration.py` — z\n\ncalibration text\n")
    ps.write_readme(f"{ps.START}\nfirst\n{ps.END}\n", readme)
    ps.write_readme(f"{ps.START}\nsecond\n{ps.END}\n", readme)
    text = readme.read_text()
    assert text == ("# B\n\n## `scoring.py` — x\n\nscoring text\n\n## `pipeline.py` — y\n\n"
                    f"pipeline text\n\n{ps.START}\nsecond\n{ps.END}\n\n"
                    "## `calibration.py` — z\n\ncalibration text\n")
