"""The manifest language on small synthetic files: delimiters, decimal commas, .xlsx, dates,
status + cause events and patient tables joined through a sample table, end to end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from her2atlas.cohort import build_cohort
from her2atlas.errors import Her2AtlasError
from her2atlas.expression import read_matrix
from her2atlas.fetch import fetch_all
from her2atlas.manifest import load_manifest
from her2atlas.manifest_check import check_manifest, format_table

GENES = [f"G{i}" for i in range(20)]
SAMPLES = [f"S{i}" for i in range(12)]


def _expression() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(rng.normal(8, 1, (len(GENES), len(SAMPLES))).round(3), index=GENES,
                        columns=SAMPLES)


def _write_semicolon_decimal_comma(frame: pd.DataFrame, path) -> None:
    text = frame.rename_axis("gene").to_csv(sep=";", decimal=",")
    path.write_text(text, encoding="utf-8")


def test_expression_with_semicolons_and_decimal_commas(tmp_path):
    frame = _expression()
    path = tmp_path / "expr.csv"
    _write_semicolon_decimal_comma(frame, path)
    assert "8," in path.read_text()  # really written with decimal commas
    read = read_matrix(path, orientation="genes_by_samples", gene_column="gene", decimal=",")
    np.testing.assert_allclose(read.to_numpy(), frame.to_numpy())
    assert list(read.columns) == SAMPLES
    with pytest.raises(Her2AtlasError, match="non-numeric expression value"):
        read_matrix(path, orientation="genes_by_samples", gene_column="gene")  # '.' declared


def test_expression_from_xlsx_samples_in_rows(tmp_path):
    pytest.importorskip("openpyxl")
    frame = _expression()
    path = tmp_path / "expr.xlsx"
    frame.T.rename_axis("sample").to_excel(path, sheet_name="log2")
    read = read_matrix(path, orientation="samples_by_genes", gene_column="sample", sheet="log2")
    np.testing.assert_allclose(read.loc[GENES, SAMPLES].to_numpy(), frame.to_numpy())


def _cohort_files(root):
    """Expression (';' + decimal comma), a sample → patient table and a patient table."""
    folder = root / "lang"
    folder.mkdir(parents=True)
    _write_semicolon_decimal_comma(_expression(), folder / "expr.csv")
    patients = [f"P{i}" for i in range(12)]
    pd.DataFrame({"sample": SAMPLES, "patient": patients}).to_csv(
        folder / "samples.txt", sep="|", index=False)
    dx = pd.Timestamp("2010-01-01")
    pd.DataFrame({
        "patient": patients,
        "diagnosis": [(dx + pd.Timedelta(days=30 * i)).strftime("%d/%m/%Y") for i in range(12)],
        "last_seen": [(dx + pd.Timedelta(days=400 + 100 * i)).strftime("%d/%m/%Y")
                      for i in range(12)],
        "vital": ["dead", "alive"] * 6,
        "cause": ["breast cancer", ""] * 5 + ["other", ""],
    }).to_csv(folder / "patients.tsv", sep="\t", index=False)


def _manifest(tmp_path) -> dict:
    return {
        "id": "lang", "title": "t", "citation": "c", "synthetic": True,
        "source": {"kind": "files"}, "design": "not_trastuzumab_treated",
        "files": [{"name": n, "path": f"lang/{n}"}
                  for n in ("expr.csv", "samples.txt", "patients.tsv")],
        "expression": {"files": ["expr.csv"], "gene_column": "gene", "units": "log2",
                       "delimiter": ";", "decimal": ","},
        "clinical": {
            "tables": {"ids": {"file": "samples.txt", "id_column": "sample"},
                       "pat": {"file": "patients.tsv", "id_column": "patient",
                               "via": {"table": "ids", "column": "patient"}}},
            "fields": {
                "patient_id": {"table": "ids", "column": "patient"},
                "dss_time": {"table": "pat", "start_date": "diagnosis", "end_date": "last_seen",
                             "date_format": "%d/%m/%Y"},
                "dss_event": {"table": "pat", "column": "vital", "event_values": ["dead"],
                              "censored_values": ["alive"], "cause_column": "cause",
                              "cause_values": ["breast cancer"]},
            }},
        "endpoints": {"survival": ["dss"]},
        "expected": {"samples": 12, "dss_labelled": 12, "dss_events": 5},
    }


def test_a_cohort_using_every_new_option_builds_and_checks_clean(tmp_path):
    root = tmp_path / "root"
    _cohort_files(root)
    path = tmp_path / "lang.yaml"
    path.write_text(yaml.safe_dump(_manifest(tmp_path)))
    findings = check_manifest(path, data=True, data_roots=[root])
    assert findings == [], format_table(findings)
    manifest = load_manifest(path)
    raw = tmp_path / "raw"
    fetch_all(manifest["files"], raw, data_roots=[root])
    adata = build_cohort(manifest, raw, manifest_file=str(path))
    obs = adata.obs
    assert list(obs["patient_id"]) == [f"P{i}" for i in range(12)]
    # last_seen - diagnosis = 400 + 70 i days
    np.testing.assert_allclose(obs["dss_time"].to_numpy(float),
                               [(400 + 70 * i) / 30.4375 for i in range(12)])
    assert obs["dss_event"].astype(float).tolist() == [1, 0] * 5 + [0, 0]
    assert adata.uns["counts"]["dss_events"] == 5


def test_via_table_must_be_declared_first(tmp_path):
    manifest = _manifest(tmp_path)
    tables = manifest["clinical"]["tables"]
    manifest["clinical"]["tables"] = {"pat": tables["pat"], "ids": tables["ids"]}
    path = tmp_path / "lang.yaml"
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))  # the order is what matters
    with pytest.raises(Her2AtlasError, match="via table 'ids' is not declared before 'pat'"):
        load_manifest(path)
