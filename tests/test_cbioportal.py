"""cBioPortal client end to end against a local server answering like the real web API.

Clinical answers are built from the real METABRIC study files in ../shared/data (read in
place); the expression answer is a synthetic FIXTURE for 40 genes of the first 300 samples.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from her2atlas.clinical import read_table
from her2atlas.cohort import build_cohort, plain
from her2atlas.errors import Her2AtlasError
from her2atlas.fetch import fetch_cohort
from her2atlas.manifest import load_manifest

from conftest import MANIFEST_SCHEMA, REPO, SHARED_DATA, needs_shared
from httpfixture import Server

STUDY = "brca_metabric"
GENES = ["IL6", "IL6R", "IL6ST", "JAK1", "JAK2", "STAT3", "NFKB1", "RELA", "SOCS3", "ERBB2",
         "GRB7", "ESR1", "GZMA", "PRF1", "MKI67"] + [f"FIXG{i}" for i in range(25)]


def _clinical_records(path, id_key, with_patient=False):
    table = read_table(path, comment="#")
    id_col = "PATIENT_ID" if id_key == "patientId" else "SAMPLE_ID"
    records = []
    for row in table.to_dict("records"):
        for column, value in row.items():
            if column in (id_col, "PATIENT_ID") or value == "":
                continue
            record = {"clinicalAttributeId": column, "value": value, "studyId": STUDY,
                      id_key: row[id_col]}
            if with_patient:
                record["patientId"] = row["PATIENT_ID"]
            records.append(record)
    return records


def _serve_study(server):
    api = "/api"
    server.add(f"{api}/studies/{STUDY}", json.dumps({
        "studyId": STUDY, "name": "Breast Cancer (METABRIC) FIXTURE", "importDate":
        "2026-01-01 00:00:00", "citation": "Curtis et al. Nature 2012"}).encode())
    base = f"{api}/studies/{STUDY}/clinical-data?clinicalDataType="
    tail = "&projection=SUMMARY&pageSize=10000000"
    patients = _clinical_records(SHARED_DATA / "METABRIC/cbioportal_brca_metabric_data_clinical_patient.txt",
                                 "patientId")
    samples = _clinical_records(SHARED_DATA / "METABRIC/cbioportal_brca_metabric_data_clinical_sample.txt",
                                "sampleId", with_patient=True)
    server.add(base + "PATIENT" + tail, json.dumps(patients).encode())
    server.add(base + "SAMPLE" + tail, json.dumps(samples).encode())
    server.add(f"{api}/studies/{STUDY}/molecular-profiles", json.dumps([
        {"molecularProfileId": f"{STUDY}_mrna", "molecularAlterationType": "MRNA_EXPRESSION",
         "datatype": "CONTINUOUS"},
        {"molecularProfileId": f"{STUDY}_cna", "molecularAlterationType": "COPY_NUMBER_ALTERATION",
         "datatype": "DISCRETE"}]).encode())
    server.add(f"{api}/genes?pageSize=10000000&projection=SUMMARY", json.dumps(
        [{"entrezGeneId": 1000 + i, "hugoGeneSymbol": g} for i, g in enumerate(GENES)]).encode())
    ids = sorted({r["sampleId"] for r in samples})[:300]
    rng = np.random.default_rng(0)
    values = [{"entrezGeneId": 1000 + i, "sampleId": s, "value": float(rng.normal(8, 1)),
               "molecularProfileId": f"{STUDY}_mrna", "studyId": STUDY}
              for i in range(len(GENES)) for s in ids]
    route = server.add(f"{api}/molecular-profiles/{STUDY}_mrna/molecular-data/fetch"
                       "?projection=SUMMARY", json.dumps(values).encode())
    return ids, route


@needs_shared
def test_metabric_through_the_api(tmp_path):
    path = REPO / "workflow/cohorts/metabric.yaml"
    manifest = load_manifest(path, MANIFEST_SCHEMA)
    raw = tmp_path / "raw" / "metabric"
    with Server() as server:
        ids, route = _serve_study(server)
        fetched = fetch_cohort(manifest, raw, data_roots=[tmp_path / "empty"],
                               cbioportal_url=server.url)
        posted = json.loads(route.posted[0])
    assert posted["sampleListId"] == f"{STUDY}_all" and len(posted["entrezGeneIds"]) == 40
    assert {f["name"] for f in fetched} >= {"data_clinical_patient.txt", "data_mrna.txt"}
    study = json.loads((raw / "study.json").read_text())
    # 529 of the 2,509 patient rows have no attribute values, so the API returns 1,980 patients
    assert study["importDate"] == "2026-01-01 00:00:00" and study["n_patients"] == 1980
    # the written clinical files read back like the study's own files
    written = read_table(raw / "data_clinical_patient.txt", comment="#").set_index("PATIENT_ID")
    original = read_table(SHARED_DATA / "METABRIC/cbioportal_brca_metabric_data_clinical_patient.txt",
                          comment="#").set_index("PATIENT_ID")
    assert written.loc["MB-0000", "OS_MONTHS"] == original.loc["MB-0000", "OS_MONTHS"]
    adata = build_cohort(manifest, raw, manifest_file=str(path), fetched=fetched)
    assert adata.n_obs == 300 and adata.n_vars == 40
    prov = plain(dict(adata.uns["provenance"]))
    assert "not known offline" in prov["unverified"]
    obs = adata.obs
    subset = original.reindex(ids)
    assert (obs["her2_status"] == "positive").sum() == (
        read_table(SHARED_DATA / "METABRIC/cbioportal_brca_metabric_data_clinical_sample.txt",
                   comment="#").set_index("SAMPLE_ID").reindex(ids)["HER2_STATUS"] == "+").sum()
    assert obs["os_event"].sum() == (subset["OS_STATUS"] == "DECEASED").sum()


@needs_shared
def test_metabric_clinical_counts_are_asserted(tmp_path):
    path = REPO / "workflow/cohorts/metabric.yaml"
    manifest = load_manifest(path, MANIFEST_SCHEMA)
    manifest["expected_clinical"]["her2_positive"] = 250
    raw = tmp_path / "raw"
    with Server() as server:
        _serve_study(server)
        fetch_cohort(manifest, raw, data_roots=[], cbioportal_url=server.url)
    with pytest.raises(Her2AtlasError, match="her2_positive +expected +250 +found +247"):
        build_cohort(manifest, raw, manifest_file=str(path))


def test_unknown_profile_lists_the_available_ones(tmp_path):
    from her2atlas.cbioportal import fetch_study

    with Server() as server:
        server.add(f"/api/studies/{STUDY}", json.dumps({"studyId": STUDY}).encode())
        tail = "&projection=SUMMARY&pageSize=10000000"
        for kind in ("PATIENT", "SAMPLE"):
            server.add(f"/api/studies/{STUDY}/clinical-data?clinicalDataType={kind}{tail}",
                       b"[]")
        server.add(f"/api/studies/{STUDY}/molecular-profiles", json.dumps([
            {"molecularProfileId": f"{STUDY}_mrna_z", "molecularAlterationType":
             "MRNA_EXPRESSION"}]).encode())
        with pytest.raises(Her2AtlasError, match=f"use one of: {STUDY}_mrna_z"):
            fetch_study(STUDY, tmp_path, base_url=server.url, expression_profile="mrna")
    assert not list(tmp_path.glob("*.part"))


def _cbio_table(path, header: list[str], rows: list[list[str]]) -> None:
    """A cBioPortal clinical file: four '#' header lines, then the table."""
    lines = ["#" + "\t".join(header)] * 4 + ["\t".join(header)] + ["\t".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n")


def test_tcga_pancan_joins_the_legacy_her2_calls_on_the_patient_id(tmp_path):
    """Two sources in one manifest: PanCancer samples, legacy patient table via PATIENT_ID."""
    path = REPO / "workflow/cohorts/tcga_brca_pancan.yaml"
    manifest = load_manifest(path, MANIFEST_SCHEMA)
    raw = tmp_path / "raw"
    raw.mkdir()
    # patient -> (IHC_HER2, HER2_FISH_STATUS, ER); P3 has a primary and a metastasis sample
    legacy = {"TCGA-AA-0001": ("Positive", "[Not Evaluated]", "Negative"),
              "TCGA-AA-0002": ("Equivocal", "Positive", "Positive"),
              "TCGA-AA-0003": ("Equivocal", "Negative", "Positive"),
              "TCGA-AA-0004": ("[Not Evaluated]", "[Not Evaluated]", "Indeterminate")}
    samples = {"TCGA-AA-0001-01": "TCGA-AA-0001", "TCGA-AA-0002-01": "TCGA-AA-0002",
               "TCGA-AA-0003-01": "TCGA-AA-0003", "TCGA-AA-0003-06": "TCGA-AA-0003",
               "TCGA-AA-0004-01": "TCGA-AA-0004"}
    _cbio_table(raw / "legacy_clinical_patient.txt",
                ["PATIENT_ID", "IHC_HER2", "HER2_FISH_STATUS", "ER_STATUS_BY_IHC"],
                [[p, *calls] for p, calls in legacy.items()])
    _cbio_table(raw / "data_clinical_sample.txt", ["SAMPLE_ID", "PATIENT_ID"],
                [[s, p] for s, p in samples.items()])
    _cbio_table(raw / "data_clinical_patient.txt",
                ["PATIENT_ID", "SUBTYPE", "OS_MONTHS", "OS_STATUS", "PFS_MONTHS", "PFS_STATUS",
                 "DSS_MONTHS", "DSS_STATUS"],
                [[p, "BRCA_Her2", "10", "1:DECEASED", "5", "1:PROGRESSION", "10",
                  "1:DEAD WITH TUMOR"] for p in legacy])
    rng = np.random.default_rng(1)
    expr = ["Hugo_Symbol\tEntrez_Gene_Id\t" + "\t".join(samples)] + [
        f"{g}\t{1000 + i}\t" + "\t".join(f"{v:.3f}" for v in rng.uniform(0, 500, len(samples)))
        for i, g in enumerate(GENES)]
    (raw / "data_mrna.txt").write_text("\n".join(expr) + "\n")
    (raw / "study.json").write_text(json.dumps({"studyId": manifest["cbioportal"]["study"]}))
    obs = build_cohort(manifest, raw, manifest_file=str(path)).obs
    assert obs["her2_status"].astype(object).where(obs["her2_status"].notna(), None).to_dict() == {
        "TCGA-AA-0001-01": "positive", "TCGA-AA-0002-01": "positive",
        "TCGA-AA-0003-01": "negative", "TCGA-AA-0003-06": "negative", "TCGA-AA-0004-01": None}
    assert obs["er_status"].astype(object).where(obs["er_status"].notna(), None).to_dict() == {
        "TCGA-AA-0001-01": "negative", "TCGA-AA-0002-01": "positive",
        "TCGA-AA-0003-01": "positive", "TCGA-AA-0003-06": "positive", "TCGA-AA-0004-01": None}
