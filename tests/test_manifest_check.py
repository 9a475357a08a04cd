"""check-manifest --data: every problem of a manifest and its data files in one call."""

from __future__ import annotations

import copy
import gzip
import os
import subprocess
import sys

import geo_fixtures as fx
import numpy as np
import pandas as pd
import pytest
import yaml

from her2atlas import geo
from her2atlas.manifest_check import check_manifest, errors, format_table, write_tsv

from conftest import REPO

BASE = yaml.safe_load((REPO / "workflow/cohorts/demo_neoadjuvant_b.yaml").read_text())
ID = BASE["id"]


@pytest.fixture
def root(tmp_path, demo_dir):
    """A data root holding a writable copy of demo cohort B's files."""
    folder = tmp_path / "root" / ID
    folder.mkdir(parents=True)
    for name in ("expression.tsv.gz", "clinical.tsv"):
        (folder / name).write_bytes((demo_dir / ID / name).read_bytes())
    return tmp_path / "root"


def _write(tmp_path, manifest: dict):
    path = tmp_path / f"{manifest['id']}.yaml"
    path.write_text(yaml.safe_dump(manifest))
    return path


def _check(tmp_path, root, mutate=None):
    manifest = copy.deepcopy(BASE)
    if mutate:
        mutate(manifest)
    return check_manifest(_write(tmp_path, manifest), data=True, data_roots=[root])


def _clinical(root) -> pd.DataFrame:
    return pd.read_csv(root / ID / "clinical.tsv", sep="\t", dtype=str, keep_default_na=False)


def _save_clinical(root, table: pd.DataFrame) -> None:
    table.to_csv(root / ID / "clinical.tsv", sep="\t", index=False)


def test_the_demo_manifest_has_no_findings(tmp_path, root):
    assert _check(tmp_path, root) == []


def test_five_independent_mistakes_give_exactly_five_findings(tmp_path, root):
    clinical = _clinical(root)
    n = len(clinical)
    clinical["os_days"] = [str(300 + 25 * i) for i in range(n)]  # days; median 1,412
    clinical["os_dead"] = ["1" if i % 3 == 0 else "0" for i in range(n)]
    clinical.loc[:4, "er"] = "ER 2+"  # 5 values the map does not know
    _save_clinical(root, clinical)

    def five_mistakes(m):
        m["expression"]["units"] = "auto"                                  # 1 files cohort
        m["clinical"]["fields"]["pcr"]["column"] = "respons"               # 2 misspelt column
        m["clinical"]["fields"]["os_time"] = {"table": "clin", "column": "os_days"}  # 3 no unit
        m["clinical"]["fields"]["os_event"] = {"table": "clin", "column": "os_dead"}
        m["expected"]["samples"] = 91                                      # 4 wrong count
        # 5: er map lacks 'ER 2+' (written into the table above)
    findings = _check(tmp_path, root, five_mistakes)
    assert len(findings) == 5, format_table(findings)
    by_field = {f.field: f for f in findings}
    assert set(by_field) == {"expression.units", "clinical.fields.pcr.column",
                             "clinical.fields.os_time.unit", "expected.samples",
                             "clinical.fields.er_status.map"}
    assert all(f.severity == "error" and f.fix and f.cohort == ID for f in findings)
    assert all(f.file.endswith(f"{ID}.yaml") for f in findings)
    assert "did you mean 'response'" in by_field["clinical.fields.pcr.column"].fix
    assert "'os_dead'" in by_field["clinical.fields.pcr.column"].fix  # every column listed
    unit = by_field["clinical.fields.os_time.unit"]
    median = np.median([300 + 25 * i for i in range(n)])  # every clinical row is a sample
    assert f"median os_time is {median:,.0f} months when read as months" in unit.problem
    assert unit.fix == "the values look like days: set unit: days"
    assert "'ER 2+' (5)" in by_field["clinical.fields.er_status.map"].problem
    assert by_field["expected.samples"].found == "expected 91, found 90"
    assert by_field["expected.samples"].section == "expected"


def test_the_forgotten_days_unit_is_also_refused_by_the_build(tmp_path, root):
    from her2atlas.clinical import map_fields
    from her2atlas.errors import Her2AtlasError

    table = pd.DataFrame({"t": ["400", "1500", "2900"]}, index=["a", "b", "c"])
    with pytest.raises(Her2AtlasError, match="median os_time is 345 months when read as weeks"):
        map_fields({"x": table}, table.index, {"os_time": {"table": "x", "column": "t",
                                                           "unit": "weeks"}})
    with pytest.raises(Her2AtlasError, match="set unit: days"):
        map_fields({"x": table}, table.index, {"os_time": {"table": "x", "column": "t"}})


def test_orientation_is_guessed_from_the_ids(tmp_path, root):
    path = root / ID / "expression.tsv.gz"
    frame = pd.read_csv(path, sep="\t", index_col=0)
    with gzip.open(path, "wt") as handle:
        frame.T.rename_axis("gene").to_csv(handle, sep="\t")  # samples in rows now
    findings = _check(tmp_path, root)
    assert [f.field for f in findings] == ["expression.orientation"], format_table(findings)
    assert findings[0].fix == "set expression.orientation: samples_by_genes"
    assert findings[0].found == "orientation: genes_by_samples"
    # declared correctly, the same file checks clean
    assert _check(tmp_path, root, lambda m: m["expression"].update(
        orientation="samples_by_genes")) == []


def test_a_wrong_id_column_names_the_column_that_holds_the_ids(tmp_path, root):
    clinical = _clinical(root)
    clinical.insert(0, "record", [f"R{i}" for i in range(len(clinical))])
    _save_clinical(root, clinical)
    findings = _check(tmp_path, root, lambda m: m["clinical"]["tables"]["clin"].update(
        id_column="record"))
    assert [f.field for f in findings] == ["clinical.tables.clin.id_column"]
    assert f"column 'sample_id' holds {len(clinical)} of the sample ids" in findings[0].fix


def test_missing_mirror_file_names_the_path_looked_for(tmp_path, root):
    (root / ID / "clinical.tsv").unlink()
    findings = _check(tmp_path, root)
    assert [f.field for f in findings] == ["files.clinical.tsv"]
    assert f"{root}/{ID}/clinical.tsv" in findings[0].problem
    assert f"<data root>/{ID}/clinical.tsv" in findings[0].fix


def test_static_reference_problems_are_all_listed(tmp_path, root):
    def mutate(m):
        m["clinical"]["fields"]["pcr"]["table"] = "clinic"
        m["expected"]["pcr_event"] = 3
        m["expected"]["os_events"] = 3
        m["sample_filter"] = {"her2": ["positive"]}
    findings = _check(tmp_path, root, mutate)
    fields = sorted(f.field for f in findings)
    assert fields == ["clinical.fields.pcr.table", "expected.os_events", "expected.pcr_event",
                      "sample_filter.her2"], format_table(findings)
    by_field = {f.field: f for f in findings}
    assert "did you mean 'clin'" in by_field["clinical.fields.pcr.table"].fix
    assert "did you mean 'pcr_events'" in by_field["expected.pcr_event"].fix
    assert "os_time, os_event" in by_field["expected.os_events"].problem
    assert "'her2_status'?" in by_field["sample_filter.her2"].fix


def test_schema_problems_are_all_listed_and_null_is_written_as_yaml(tmp_path, root):
    def mutate(m):
        m["design"] = "randomized"
        m["colour"] = "blue"
        m["endpoints"]["response"] = "pCR"
    findings = _check(tmp_path, root, mutate)
    by_field = {f.field: f for f in findings}
    assert set(by_field) == {"design", "colour", "endpoints.response"}
    assert "did you mean 'randomised_trastuzumab'" in by_field["design"].fix
    assert by_field["endpoints.response"].fix.endswith("use one of: 'pcr', null")
    assert "None" not in by_field["endpoints.response"].fix


def test_expected_clinical_mismatch_is_labelled_with_its_section(tmp_path, root):
    findings = _check(tmp_path, root, lambda m: m.update(expected_clinical={"samples": 80}))
    assert [(f.section, f.field, f.found) for f in findings] == [
        ("expected_clinical", "expected_clinical.samples", "expected 80, found 90")]


def _geo_mirror(tmp_path):
    mirror = tmp_path / "mirror"
    for rel, body in ((geo.series_matrix_path(fx.GSE), fx.series_matrix_text()),
                      (geo.platform_annot_path(fx.GPL), fx.annot_text())):
        (mirror / rel).parent.mkdir(parents=True, exist_ok=True)
        (mirror / rel).write_bytes(fx.gz(body))
    return mirror


def test_geo_column_typo_lists_the_characteristic_keys_first(tmp_path):
    from test_geo import _fixture_manifest

    mirror = _geo_mirror(tmp_path)
    path = _fixture_manifest(tmp_path)
    assert check_manifest(path, data=True, data_roots=[mirror]) == []
    doc = yaml.safe_load(path.read_text())
    doc["clinical"]["fields"]["pcr"]["column"] = "pCR"
    path.write_text(yaml.safe_dump(doc))
    findings = check_manifest(path, data=True, data_roots=[mirror])
    assert [f.field for f in findings] == ["clinical.fields.pcr.column"]
    fix = findings[0].fix
    assert fix.startswith("did you mean 'pcr'? characteristic keys: "
                          "'her2.status (1: positive, 0: negative)', 'treatment', 'pcr', "
                          "'timepoint', 'tissue'; other GEO sample fields: 'title', ")


def test_geo_platform_file_missing_says_where_it_goes(tmp_path):
    from test_geo import _fixture_manifest

    mirror = _geo_mirror(tmp_path)
    annot = mirror / geo.platform_annot_path(fx.GPL)
    annot.unlink()
    findings = check_manifest(_fixture_manifest(tmp_path), data=True, data_roots=[mirror])
    assert [f.field for f in findings] == [f"files.{fx.GPL}.annot.gz"]
    assert f"<data root>/{geo.platform_annot_path(fx.GPL)}" in findings[0].fix
    # downloads allowed: the file is fetched later, so the check only notes it
    later = check_manifest(_fixture_manifest(tmp_path), data=True, data_roots=[mirror],
                           allow_download=True)
    assert [f.severity for f in later] == ["note"] and not errors(later)


def test_cli_works_from_another_directory_and_exits_non_zero(tmp_path, root):
    manifest = copy.deepcopy(BASE)
    manifest["clinical"]["fields"]["pcr"]["column"] = "respons"
    manifest["expected"]["samples"] = 91
    path = _write(tmp_path, manifest)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    run = subprocess.run(
        [sys.executable, "-m", "her2atlas.cli", "check-manifest", "--data", str(path),
         "--data-root", str(root), "--tsv", "found.tsv"],
        cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 1, run.stderr
    assert "clinical.fields.pcr.column" in run.stdout and "expected.samples" in run.stdout
    assert "2 error(s), 0 note(s)" in run.stdout
    table = pd.read_csv(tmp_path / "found.tsv", sep="\t")
    assert list(table["field"]) == ["clinical.fields.pcr.column", "expected.samples"]
    ok = subprocess.run([sys.executable, "-m", "her2atlas.cli", "check-manifest", ID],
                        cwd=tmp_path, env=env, capture_output=True, text=True)
    assert ok.returncode == 0 and "no problems found" in ok.stdout, ok.stdout + ok.stderr


def test_write_tsv_with_no_findings_has_the_header(tmp_path):
    path = write_tsv([], tmp_path / "qc" / "data_check.tsv")
    assert path.read_text().split("\t")[:3] == ["cohort", "file", "section"]


def test_offline_cohorts_check_clean_and_fast():
    import time

    from conftest import SHARED_DATA

    if not SHARED_DATA.is_dir():
        pytest.skip(f"offline mirror {SHARED_DATA} is absent")
    cohorts = ["gse42822_trastuzumab", "transneo_her2", "tcga_brca_subset",
               "scanb_gse96058_subset"]
    start = time.perf_counter()
    findings = []
    for cohort in cohorts:
        findings += check_manifest(REPO / f"workflow/cohorts/{cohort}.yaml", data=True,
                                   data_roots=[SHARED_DATA])
    assert findings == [], format_table(findings)
    assert time.perf_counter() - start < 15



@pytest.mark.pipeline
def test_workflow_lists_every_cohorts_problems_before_any_job(tmp_path):
    from her2atlas.demo import write_demo

    from pipeline_helpers import make_workdir, snakemake

    work = tmp_path / "work"
    work.mkdir()
    make_workdir(work)
    write_demo(work / "data/demo")
    for cohort, old, new in (("demo_neoadjuvant_a", "units: counts", "units: auto"),
                             ("demo_neoadjuvant_b", "column: response", "column: respons")):
        path = work / f"workflow/cohorts/{cohort}.yaml"
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new, 1))
    result = snakemake(work, "--configfile", "demo/config.yaml", "--dry-run", check=False)
    text = result.stdout + result.stderr
    assert result.returncode != 0 and "Traceback" not in text
    assert "2 error(s), 0 note(s)" in text
    table = pd.read_csv(work / "results/demo/qc/data_check.tsv", sep="\t")
    assert list(zip(table["cohort"], table["field"], strict=True)) == [
        ("demo_neoadjuvant_a", "expression.units"),
        ("demo_neoadjuvant_b", "clinical.fields.pcr.column")]
    assert not (work / "results/demo/cohorts").exists()  # no job ran


def test_columns_lists_the_geo_characteristic_keys(tmp_path):
    from test_geo import _fixture_manifest

    from her2atlas.manifest_check import table_columns

    mirror = _geo_mirror(tmp_path)
    text = table_columns(_fixture_manifest(tmp_path), data_roots=[mirror])
    lines = text.splitlines()
    assert lines[0] == "fixture_geo:"
    assert lines[1] == ("  geo (characteristic keys): 'her2.status (1: positive, 0: negative)', "
                        "'treatment', 'pcr', 'timepoint', 'tissue'")
    assert lines[2].startswith("  geo (other sample fields): 'title', 'geo_accession'")
