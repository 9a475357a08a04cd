"""Bad input is refused clearly: each case names the file, the field or row, and the fix.

Cases run the library on small copies of the demo cohort with one thing broken, and check the
message (and that nothing half-written is left behind). The end-to-end form of these errors
(one message, no traceback) is checked in test_pipeline_demo.
"""

from __future__ import annotations

import copy
import gzip
from pathlib import Path

import pandas as pd
import pytest
import yaml

from her2atlas.association import associate_cohort
from her2atlas.cohort import build_cohort
from her2atlas.errors import CountMismatchError, Her2AtlasError
from her2atlas.fetch import fetch_all
from her2atlas.manifest import check_cohort_id, load_manifest
from her2atlas.signatures import Signature, coverage, read_gmt
from her2atlas.validation import load_yaml, validate

from conftest import CONFIG_SCHEMA, MANIFEST_SCHEMA, REPO

BASE = yaml.safe_load((REPO / "workflow/cohorts/demo_neoadjuvant_b.yaml").read_text())


@pytest.fixture
def cohort_dir(tmp_path, demo_dir):
    """A writable copy of demo cohort B's files, as a data root."""
    root = tmp_path / "root" / "demo_neoadjuvant_b"
    root.mkdir(parents=True)
    for name in ("expression.tsv.gz", "clinical.tsv"):
        (root / name).write_bytes((demo_dir / "demo_neoadjuvant_b" / name).read_bytes())
    return root


def _expression(root: Path) -> pd.DataFrame:
    return pd.read_csv(root / "expression.tsv.gz", sep="\t", index_col=0)


def _write_expression(root: Path, frame: pd.DataFrame) -> None:
    with gzip.open(root / "expression.tsv.gz", "wt") as handle:
        frame.to_csv(handle, sep="\t")


def _build(tmp_path, root, mutate=None):
    manifest = copy.deepcopy(BASE)
    if mutate:
        mutate(manifest)
    path = tmp_path / f"{manifest['id']}.yaml"
    path.write_text(yaml.safe_dump(manifest))
    manifest = load_manifest(path, MANIFEST_SCHEMA)
    raw = tmp_path / "raw"
    fetch_all(manifest["files"], raw, data_roots=[root.parent])
    return build_cohort(manifest, raw, manifest_file=str(path)), path


def _expect(exc: Her2AtlasError, *parts: str) -> None:
    text = str(exc)
    for part in parts:
        assert part in text, f"{part!r} not in message:\n{text}"
    assert exc.fix, f"no fix given:\n{text}"


# ---- manifests and config -------------------------------------------------------------------
@pytest.mark.parametrize("mutate, parts", [
    (lambda m: m.update(colour="blue"), ["unknown key 'colour'"]),
    (lambda m: m["expression"].update(normalise="tmm"), ["expression.normalise"]),
    (lambda m: m["expected"].update(samples="ninety"), ["expected.samples", "wrong type"]),
    (lambda m: m.update(design="randomized"), ["design", "randomised_trastuzumab"]),
    (lambda m: m["expression"].update(units="rpkm"), ["expression.units", "log2"]),
    (lambda m: m.pop("citation"), ["citation", "required"]),
    (lambda m: m["files"][0].update(path="../../etc/passwd"), ["not a safe relative path"]),
    (lambda m: m["files"][0].update(path="/etc/passwd"), ["not a safe relative path"]),
    (lambda m: m["files"][0].update(name="sub/dir.tsv"), ["must not contain '/'"]),
    (lambda m: m["files"][0].update(sha256="xyz"), ["sha256", "pattern"]),
    (lambda m: m["expression"].update(files=["absent.tsv"]), ["'absent.tsv' is used but not declared"]),
    (lambda m: m.update(id="other_id"), ["differs from the file name"]),
    (lambda m: m["expression"].update(units="auto"), ["expression.units", "only for GEO"]),
    (lambda m: m["expected"].update(pcr_event=3), ["expected.pcr_event", "did you mean 'pcr_events'"]),
    (lambda m: m["expected"].update(os_events=3), ["expected.os_events", "os_time, os_event"]),
    (lambda m: m.update(design=None), ["design", "'trastuzumab_treated'", "null"]),
])
def test_bad_manifests(tmp_path, mutate, parts):
    manifest = copy.deepcopy(BASE)
    mutate(manifest)
    path = tmp_path / "demo_neoadjuvant_b.yaml"
    path.write_text(yaml.safe_dump(manifest))
    with pytest.raises(Her2AtlasError) as info:
        load_manifest(path, MANIFEST_SCHEMA)
    _expect(info.value, str(path), *parts)


def test_manifest_yaml_syntax_error(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("id: [unclosed\n")
    with pytest.raises(Her2AtlasError) as info:
        load_manifest(path, MANIFEST_SCHEMA)
    _expect(info.value, "broken.yaml", "not valid YAML")


@pytest.mark.parametrize("cohort", ["../evil", "a b", "x/y", "", "-leading"])
def test_cohort_id_must_be_a_safe_file_name(cohort):
    with pytest.raises(Her2AtlasError) as info:
        check_cohort_id(cohort)
    _expect(info.value, "config.yaml", "not a safe file name")


def test_config_unknown_key_and_bad_value():
    config = load_yaml(REPO / "config.yaml")
    config["assocation"] = {}
    with pytest.raises(Her2AtlasError) as info:
        validate(config, CONFIG_SCHEMA, file="config.yaml")
    _expect(info.value, "config.yaml", "unknown key 'assocation'", "association")
    config = load_yaml(REPO / "config.yaml")
    config["association"]["survival_split"] = "quartile"
    with pytest.raises(Her2AtlasError) as info:
        validate(config, CONFIG_SCHEMA, file="config.yaml")
    _expect(info.value, "association.survival_split", "median")


# ---- data files ------------------------------------------------------------------------------
def test_missing_file_under_every_data_root(tmp_path, cohort_dir):
    (cohort_dir / "clinical.tsv").unlink()
    with pytest.raises(Her2AtlasError) as info:
        _build(tmp_path, cohort_dir)
    _expect(info.value, "clinical.tsv", "data_roots")


def test_wrong_checksum(tmp_path, cohort_dir):
    def mutate(m):
        m["files"][1]["sha256"] = "0" * 64
    with pytest.raises(Her2AtlasError) as info:
        _build(tmp_path, cohort_dir, mutate)
    _expect(info.value, "checksum mismatch", "clinical.tsv")
    assert not (tmp_path / "raw" / "clinical.tsv").exists()  # nothing half-trusted left


def test_duplicated_sample_ids_in_expression(tmp_path, cohort_dir):
    frame = _expression(cohort_dir)
    frame = pd.concat([frame, frame.iloc[:, :1]], axis=1)
    _write_expression(cohort_dir, frame)
    with pytest.raises(Her2AtlasError) as info:
        _build(tmp_path, cohort_dir)
    _expect(info.value, "occurs twice in the header", "expression.tsv.gz")


def test_duplicated_clinical_ids(tmp_path, cohort_dir):
    clinical = pd.read_csv(cohort_dir / "clinical.tsv", sep="\t")
    pd.concat([clinical, clinical.iloc[:2]]).to_csv(cohort_dir / "clinical.tsv", sep="\t",
                                                    index=False)
    with pytest.raises(Her2AtlasError) as info:
        _build(tmp_path, cohort_dir)
    _expect(info.value, "occur more than once", "sample_id", "duplicate_ids")


def test_clinical_ids_that_do_not_match_expression(tmp_path, cohort_dir):
    clinical = pd.read_csv(cohort_dir / "clinical.tsv", sep="\t")
    clinical["sample_id"] = "X-" + clinical["sample_id"]
    clinical.to_csv(cohort_dir / "clinical.tsv", sep="\t", index=False)
    with pytest.raises(Her2AtlasError) as info:
        _build(tmp_path, cohort_dir)
    _expect(info.value, "no clinical id matches", "X-DEMO", "id_column",
            "orientation: samples_by_genes")


def test_non_numeric_expression(tmp_path, cohort_dir):
    frame = _expression(cohort_dir).astype(object)
    frame.iat[3, 2] = "n.d."
    _write_expression(cohort_dir, frame)
    with pytest.raises(Her2AtlasError) as info:
        _build(tmp_path, cohort_dir)
    _expect(info.value, "non-numeric expression value 'n.d.'", "expression.tsv.gz")


def test_negative_values_declared_as_counts(tmp_path, cohort_dir):
    with pytest.raises(Her2AtlasError) as info:
        _build(tmp_path, cohort_dir, lambda m: m["expression"].update(units="counts"))
    _expect(info.value, "negative values in data declared as counts", "expression.units")


def test_unlogged_values_declared_log2(tmp_path, cohort_dir):
    frame = 2 ** _expression(cohort_dir)
    _write_expression(cohort_dir, frame)
    with pytest.raises(Her2AtlasError) as info:
        _build(tmp_path, cohort_dir)
    _expect(info.value, "look unlogged", "expression.units")


def test_all_na_genes_are_dropped_and_recorded(tmp_path, cohort_dir):
    frame = _expression(cohort_dir)
    frame.iloc[:5, :] = float("nan")
    _write_expression(cohort_dir, frame)
    adata, _ = _build(tmp_path, cohort_dir)
    assert adata.uns["provenance"]["transformations"]["all_na_genes_dropped"] == 5


def test_expression_gene_column_missing(tmp_path, cohort_dir):
    with pytest.raises(Her2AtlasError) as info:
        _build(tmp_path, cohort_dir, lambda m: m["expression"].update(gene_column="symbol"))
    _expect(info.value, "column 'symbol' not found", "expression.gene_column")


def test_clinical_id_column_missing(tmp_path, cohort_dir):
    def mutate(m):
        m["clinical"]["tables"]["clin"]["id_column"] = "patient"
    with pytest.raises(Her2AtlasError) as info:
        _build(tmp_path, cohort_dir, mutate)
    _expect(info.value, "id column 'patient' not found", "clinical.tables.id_column")


def test_unmapped_clinical_value(tmp_path, cohort_dir):
    clinical = pd.read_csv(cohort_dir / "clinical.tsv", sep="\t")
    clinical.loc[0, "her2"] = "HER2 2+"
    clinical.to_csv(cohort_dir / "clinical.tsv", sep="\t", index=False)
    with pytest.raises(Her2AtlasError) as info:
        _build(tmp_path, cohort_dir)
    _expect(info.value, "'HER2 2+'", "clinical.fields.her2_status.map")


def test_unknown_table_and_column_in_a_field(tmp_path, cohort_dir):
    with pytest.raises(Her2AtlasError) as info:
        _build(tmp_path, cohort_dir, lambda m: m["clinical"]["fields"]["pcr"].update(
            table="labels"))
    # caught when the manifest is loaded, before any data is read
    _expect(info.value, "table 'labels' is not declared", "clinical.fields.pcr.table", "clin")
    with pytest.raises(Her2AtlasError) as info:
        _build(tmp_path, cohort_dir, lambda m: m["clinical"]["fields"]["pcr"].update(
            column="pCR"))
    _expect(info.value, "column 'pCR' not in table 'clin'", "clinical.fields.pcr.column")


def test_her2_filter_that_leaves_no_samples(tmp_path, cohort_dir):
    with pytest.raises(Her2AtlasError) as info:
        _build(tmp_path, cohort_dir, lambda m: m.update(
            sample_filter={"her2_status": ["negative"]}))
    _expect(info.value, "leaves no samples", "sample_filter")


def _survival_manifest(m):
    m["clinical"]["fields"]["os_time"] = {"table": "clin", "column": "os", "unit": "months"}
    m["clinical"]["fields"]["os_event"] = {"table": "clin", "column": "dead"}


@pytest.mark.parametrize("times, events, parts", [
    (["-3"] + ["10"] * 89, ["1"] * 90, ["negative times in os_time"]),
    (["x"] + ["10"] * 89, ["1"] * 90, ["not allowed for os_time", "a number"]),
    (["10"] * 90, ["2"] + ["1"] * 89, ["not allowed for os_event", "0, 1"]),
    (["10"] * 90, ["yes"] + ["1"] * 89, ["not allowed for os_event"]),
])
def test_bad_survival_columns(tmp_path, cohort_dir, times, events, parts):
    clinical = pd.read_csv(cohort_dir / "clinical.tsv", sep="\t")
    clinical["os"] = times
    clinical["dead"] = events
    clinical.to_csv(cohort_dir / "clinical.tsv", sep="\t", index=False)
    with pytest.raises(Her2AtlasError) as info:
        _build(tmp_path, cohort_dir, _survival_manifest)
    _expect(info.value, *parts)


def test_survival_time_without_event(tmp_path, cohort_dir):
    clinical = pd.read_csv(cohort_dir / "clinical.tsv", sep="\t")
    clinical["os"] = 10
    clinical.to_csv(cohort_dir / "clinical.tsv", sep="\t", index=False)

    def mutate(m):
        m["clinical"]["fields"]["os_time"] = {"table": "clin", "column": "os"}
    with pytest.raises(Her2AtlasError) as info:
        _build(tmp_path, cohort_dir, mutate)
    _expect(info.value, "os needs both time and event", "os_event")


def test_count_mismatch_table(tmp_path, cohort_dir):
    with pytest.raises(CountMismatchError) as info:
        _build(tmp_path, cohort_dir, lambda m: m["expected"].update(pcr_events=30))
    _expect(info.value, "pcr_events", "expected", "found")


def test_expected_clinical_mismatch_is_labelled_with_its_section(tmp_path, cohort_dir):
    with pytest.raises(CountMismatchError) as info:
        _build(tmp_path, cohort_dir, lambda m: m.update(expected_clinical={"samples": 80}))
    assert info.value.field == "expected_clinical"
    _expect(info.value, "[expected_clinical]", "'expected_clinical'", "expected     80",
            "found     90")


def test_pcr_all_one_class_is_a_documented_skip(tmp_path, cohort_dir):
    clinical = pd.read_csv(cohort_dir / "clinical.tsv", sep="\t")
    clinical["response"] = "RD"
    clinical.to_csv(cohort_dir / "clinical.tsv", sep="\t", index=False)
    adata, _ = _build(tmp_path, cohort_dir, lambda m: m.update(expected={"samples": 90}))
    scores = pd.DataFrame({"sample": adata.obs_names, "signature": "S", "method": "zmean",
                           "score": range(adata.n_obs), "score_z": 0.0, "genes_used": 3,
                           "genes_in_set": 3})
    response, _ = associate_cohort(adata.obs, scores, cohort="c", design="trastuzumab_treated",
                                   endpoints={"response": "pcr"}, roles={})
    # 90 samples, all RD: no model is fitted, and each row says so with the counts and the rule
    assert len(response) > 0 and response["effect"].isna().all()
    logistic = response[response["model"].str.startswith("logistic")]
    assert set(logistic["model"]) == {"logistic", "logistic_adj"}
    assert (logistic["n"] == 90).all() and (logistic["events"] == 0).all()
    assert set(logistic["note"]) == {"not fitted: 0 pCR / 90 non-pCR (minimum 5 each)"}
    assert response["note"].fillna("").str.startswith("not fitted").all()


# ---- signatures ------------------------------------------------------------------------------
def test_signature_with_no_genes_present_is_na_with_reason():
    cov = coverage([Signature("ABSENT", ["NOPE1", "NOPE2", "NOPE3"])], pd.Index(["A", "B"]),
                   min_coverage=0.5)
    assert not cov["scored"].iloc[0] and "only 0 gene(s) present" in cov["reason"].iloc[0]


@pytest.mark.parametrize("text, line", [
    ("SET_A\tdesc\tG1\nNOTABS\n", "line 2"),
    ("SET_A\tdesc\n", "line 1"),
    ("SET_A\td\tG1\nSET_A\td\tG2\n", "line 2"),
])
def test_malformed_gmt(tmp_path, text, line):
    path = tmp_path / "bad.gmt"
    path.write_text(text)
    with pytest.raises(Her2AtlasError) as info:
        read_gmt(path)
    _expect(info.value, "bad.gmt", line)
