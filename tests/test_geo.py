"""GEO parsing and the geo source kind end to end against a local HTTP server (fixtures)."""

from __future__ import annotations

import geo_fixtures as fx
import numpy as np
import pandas as pd
import pytest
import yaml

from her2atlas import geo, platform
from her2atlas.cohort import build_cohort, plain
from her2atlas.fetch import fetch_all
from her2atlas.manifest import load_manifest

from conftest import MANIFEST_SCHEMA, SHARED_DATA, needs_shared
from httpfixture import Server


@pytest.mark.parametrize("cell, key, value", [
    ("pcr: RD", "pcr", "RD"),
    ("her2.status (1: positive, 0: negative): 1", "her2.status (1: positive, 0: negative)", "1"),
    ("er.status (1: positive, 0: negative): NA", "er.status (1: positive, 0: negative)", None),
    ("response: ---", "response", None),
    ("time: 12:30", "time", "12:30"),
    ("plain value", "characteristic", "plain value"),
])
def test_split_characteristic(cell, key, value):
    assert geo.split_characteristic(cell) == (key, value)


def test_paths_follow_geo_layout():
    assert geo.series_matrix_path("GSE50948") == \
        "geo/series/GSE50nnn/GSE50948/matrix/GSE50948_series_matrix.txt.gz"
    assert geo.platform_annot_path("GPL96") == "geo/platforms/GPLnnn/GPL96/annot/GPL96.annot.gz"
    assert geo.platform_soft_path("GPL570") == \
        "geo/platforms/GPLnnn/GPL570/soft/GPL570_family.soft.gz"
    html = ('<a href="GSE1-GPL96_series_matrix.txt.gz">x</a>'
            '<a href="GSE1-GPL97_series_matrix.txt.gz">y</a><a href="../">up</a>')
    assert geo.list_series_matrices(html, "GSE1") == ["GSE1-GPL96_series_matrix.txt.gz",
                                                      "GSE1-GPL97_series_matrix.txt.gz"]


def test_parse_series_matrix_traps(tmp_path):
    path = tmp_path / "m.txt.gz"
    path.write_bytes(fx.gz(fx.series_matrix_text()))
    sm = geo.parse_series_matrix(path)
    s = sm.samples
    assert list(s.index) == fx.sample_ids()
    assert sm.series["geo_accession"] == [fx.GSE]
    assert s["source_name_ch1"].iloc[0] == "breast tumour\twith tab"  # quoted tab kept
    key = "her2.status (1: positive, 0: negative)"
    assert s[key].tolist()[:2] == ["1", "1"] and pd.isna(s[key].iloc[11])
    assert pd.isna(s["pcr"].iloc[3])  # '---'
    assert s["timepoint"].notna().sum() == 11 and s["tissue"].iloc[11] == "normal breast"
    assert sm.data.shape == (81, 12) and sm.data.loc["AFFX-CONTROL"].eq(8.0).all()


def test_log_detection_follows_geo2r(tmp_path):
    path = tmp_path / "m.txt.gz"
    path.write_bytes(fx.gz(fx.series_matrix_text(unlogged=True)))
    data = geo.parse_series_matrix(path).data
    logged, note = geo.log2_if_needed(data)
    assert "log2 applied" in note and logged.max().max() < 20
    again, note2 = geo.log2_if_needed(logged)
    assert "already" in note2 and again.equals(logged)
    data.iloc[0, 0], data.iloc[1, 1] = 0.0, -3.0  # values <= 0 become missing, as with .where
    logged, _ = geo.log2_if_needed(data)
    pd.testing.assert_frame_equal(logged, np.log2(data.where(data > 0)), check_exact=True)
    assert logged.isna().to_numpy().sum() == data.isna().to_numpy().sum() + 2


@needs_shared
def test_gpl96_parser_agrees_with_bioconductor_map():
    table = platform.read_soft_platform(SHARED_DATA / "GPL_annotation/GPL96.txt.gz")
    soft = platform.probe_to_symbol(table, multi="drop")
    bioc = platform.read_probe_map_tsv(SHARED_DATA / "GPL_annotation/bioc_probe2symbol_human.tsv.gz",
                                       platform="GPL96").set_index("ID")["Gene Symbol"]
    common = soft.index.intersection(bioc.index)
    agreement = float((soft[common] == bioc[common]).mean())
    assert len(common) > 19000
    assert agreement >= 0.90, f"agreement {agreement:.3f}"  # PROVENANCE reports 90.7%


def _fixture_manifest(tmp_path):
    manifest = {
        "id": "fixture_geo", "title": "FIXTURE GEO cohort", "citation": "test fixture",
        "source": {"kind": "geo", "accession": fx.GSE},
        "design": "randomised_trastuzumab",
        "geo": {"series": fx.GSE, "platform": fx.GPL},
        "clinical": {"fields": {
            "her2_status": {"table": "geo", "column": "her2.status (1: positive, 0: negative)",
                            "map": {"1": "positive", "0": "negative"}},
            "trastuzumab": {"table": "geo", "column": "treatment",
                            "map": {"FEC/TX+H": True, "FEC/TX": False}},
            "pcr": {"table": "geo", "column": "pcr", "map": {"pCR": 1, "RD": 0}},
            "timepoint": {"table": "geo", "column": "timepoint"}}},
        "sample_filter": {"timepoint": ["baseline"]},
        "endpoints": {"response": "pcr"},
        "expected": {"samples": 11, "her2_positive": 10, "trastuzumab": 8, "pcr_labelled": 10,
                     "pcr_events": 4},
    }
    path = tmp_path / "fixture_geo.yaml"
    path.write_text(yaml.safe_dump(manifest))
    return path


def test_geo_cohort_end_to_end_against_local_server(tmp_path):
    with Server() as server:
        m_path = fx_path = geo.series_matrix_path(fx.GSE)
        server.add("/" + fx_path, fx.gz(fx.series_matrix_text(unlogged=True)))
        server.add("/" + geo.platform_annot_path(fx.GPL), fx.gz(fx.annot_text()))
        path = _fixture_manifest(tmp_path)
        manifest = load_manifest(path, MANIFEST_SCHEMA, geo_base_url=server.url)
        assert manifest["files"][0]["url"] == f"{server.url}/{m_path}"
        raw = tmp_path / "raw" / "fixture_geo"
        fetched = fetch_all(manifest["files"], raw, data_roots=[])
    adata = build_cohort(manifest, raw, manifest_file=str(path), fetched=fetched)
    assert adata.n_obs == 11  # the normal-tissue sample is filtered out
    prov = plain(dict(adata.uns["provenance"]))
    steps = prov["transformations"]
    assert "log2 applied" in steps["to_log2"]
    assert steps["probe_collapse"]["probes"] == 81
    assert steps["probe_collapse"]["probes_with_symbol"] == 79  # control + multi-gene dropped
    assert "IL6" in adata.var_names and "STAT3" in adata.var_names
    # IL6R's only probe is annotated "IL6R /// OTHER": dropped by the default multi-gene rule
    assert adata.n_vars == len(fx.GENES) - 1 and "IL6R" not in adata.var_names
    assert np.nanmax(adata.X) < 20
    assert adata.uns["counts"]["pcr_events"] == 4  # odd samples, minus sample 3 (---)


def test_geo_cohort_count_mismatch_is_a_table(tmp_path):
    from her2atlas.errors import CountMismatchError

    mirror = tmp_path / "mirror"
    for rel, body in ((geo.series_matrix_path(fx.GSE), fx.series_matrix_text()),
                      (geo.platform_annot_path(fx.GPL), fx.annot_text())):
        (mirror / rel).parent.mkdir(parents=True, exist_ok=True)
        (mirror / rel).write_bytes(fx.gz(body))
    path = _fixture_manifest(tmp_path)
    doc = yaml.safe_load(path.read_text())
    doc["expected"]["pcr_events"] = 31
    path.write_text(yaml.safe_dump(doc))
    manifest = load_manifest(path, MANIFEST_SCHEMA)
    raw = tmp_path / "raw"
    fetch_all(manifest["files"], raw, data_roots=[mirror])  # the mirror's GEO tree is used
    with pytest.raises(CountMismatchError, match="pcr_events.*expected +31.*found +4"):
        build_cohort(manifest, raw, manifest_file=str(path))


def test_missing_annot_falls_back_to_the_soft_table(tmp_path):
    soft = fx.annot_text().replace("^Annotation", "^PLATFORM = " + fx.GPL)
    with Server() as server:
        server.add("/" + geo.series_matrix_path(fx.GSE), fx.gz(fx.series_matrix_text()))
        server.add("/" + geo.platform_soft_path(fx.GPL), fx.gz(soft))  # no .annot served
        path = _fixture_manifest(tmp_path)
        manifest = load_manifest(path, MANIFEST_SCHEMA, geo_base_url=server.url)
        raw = tmp_path / "raw"
        from her2atlas.fetch import fetch_cohort

        fetched = fetch_cohort(manifest, raw, data_roots=[])
    assert [f["name"] for f in fetched] == [f"{fx.GSE}_series_matrix.txt.gz",
                                            f"{fx.GPL}_family.soft.gz"]
    adata = build_cohort(manifest, raw, manifest_file=str(path), fetched=fetched)
    prov = plain(dict(adata.uns["provenance"]))
    assert prov["transformations"]["platform_annotation"] == f"{fx.GPL}_family.soft.gz"
    assert adata.n_obs == 11


def test_rna_seq_series_with_supplementary_expression(tmp_path):
    """Expression from a supplementary gene × sample file whose columns are sample titles."""
    rng = np.random.default_rng(3)
    titles = [f"FIX tumour {i}" for i in range(fx.N_SAMPLES)]
    table = pd.DataFrame(np.round(rng.normal(3, 1, (len(fx.GENES), fx.N_SAMPLES)), 2),
                         index=fx.GENES, columns=titles)
    table.index.name = "gene"
    supplementary = "GSE99001_fixture_log2fpkm.csv.gz"
    mirror = tmp_path / "mirror"
    for rel, body in ((geo.series_matrix_path(fx.GSE), fx.gz(fx.series_matrix_text())),
                      (geo.supplementary_path(fx.GSE, supplementary),
                       fx.gz(table.to_csv()))):
        (mirror / rel).parent.mkdir(parents=True, exist_ok=True)
        (mirror / rel).write_bytes(body)
    path = _fixture_manifest(tmp_path)
    doc = yaml.safe_load(path.read_text())
    doc["geo"].update(annotation="none", sample_key="title",
                      expression_file={"name": supplementary, "gene_column": "gene",
                                       "units": "log2_fpkm"})
    path.write_text(yaml.safe_dump(doc))
    manifest = load_manifest(path, MANIFEST_SCHEMA)
    raw = tmp_path / "raw"
    fetched = fetch_all(manifest["files"], raw, data_roots=[mirror])
    adata = build_cohort(manifest, raw, manifest_file=str(path), fetched=fetched)
    assert adata.n_obs == 11 and adata.n_vars == len(fx.GENES)
    assert adata.obs_names[0] == "FIX tumour 0"
    assert adata.X[0, 0] == pytest.approx(table.iloc[0, 0], abs=1e-4)
