"""Clinical field mapping to the standard vocabulary."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from her2atlas import clinical
from her2atlas.errors import Her2AtlasError

from conftest import REPO, SHARED_DATA, needs_shared


def _tables():
    raw = pd.DataFrame({
        "id": ["S1", "S2", "S3", "S4"],
        "her2": ["POS", "NEG", "POS", "---"],
        "resp": ["pCR", "RD", "RD", "NA"],
        "os_days": ["365.25", "730.5", "", "100"],
        "os_ev": ["1.0", "0.0", "", "1"],
        "regimen": ["FEC + Trastuzumab", "FEC", "T + Pertuzumab + Trastuzumab", "FEC"],
    })
    table, _ = clinical.index_table(raw, id_column="id")
    return {"t": table}


def test_map_fields_to_standard_vocabulary():
    fields = {
        "her2_status": {"table": "t", "column": "her2", "map": {"POS": "positive", "NEG": "negative"}},
        "pcr": {"table": "t", "column": "resp", "map": {"pCR": 1, "RD": 0}},
        "os_time": {"table": "t", "column": "os_days", "unit": "days"},
        "os_event": {"table": "t", "column": "os_ev"},
        "trastuzumab": {"table": "t", "column": "regimen", "regex": [["Trastuzumab", True],
                                                                     [".", False]]},
        "arm": {"value": "A"},
    }
    obs = clinical.map_fields(_tables(), pd.Index(["S1", "S2", "S3", "S4", "S5"]), fields)
    assert obs["her2_status"].tolist()[:3] == ["positive", "negative", "positive"]
    assert pd.isna(obs.loc["S4", "her2_status"]) and pd.isna(obs.loc["S5", "her2_status"])
    assert obs["pcr"].tolist()[:3] == [1, 0, 0] and pd.isna(obs.loc["S4", "pcr"])
    assert obs.loc["S1", "os_time"] == pytest.approx(12.0)  # 365.25 days = 12 months
    assert obs.loc["S1", "os_event"] == 1 and pd.isna(obs.loc["S3", "os_event"])
    assert obs["trastuzumab"].tolist()[:4] == [True, False, True, False]
    counts = clinical.count_summary(obs)
    assert counts["her2_positive"] == 2 and counts["pcr_events"] == 1
    assert counts["os_labelled"] == 3 and counts["os_events"] == 2


def test_unmapped_value_names_field_and_value():
    fields = {"her2_status": {"table": "t", "column": "her2", "map": {"POS": "positive"}}}
    with pytest.raises(Her2AtlasError) as info:
        clinical.map_fields(_tables(), pd.Index(["S1", "S2"]), fields, file="m.yaml")
    text = str(info.value)
    assert "m.yaml" in text and "clinical.fields.her2_status.map" in text and "'NEG'" in text


def test_events_must_be_binary_and_times_non_negative():
    raw = pd.DataFrame({"id": ["A", "B"], "ev": ["2", "0"], "t": ["-5", "3"]})
    table, _ = clinical.index_table(raw, id_column="id")
    with pytest.raises(Her2AtlasError, match="not allowed for os_event"):
        clinical.map_fields({"t": table}, pd.Index(["A", "B"]),
                            {"os_event": {"table": "t", "column": "ev"}})
    with pytest.raises(Her2AtlasError, match="negative times"):
        clinical.map_fields({"t": table}, pd.Index(["A", "B"]),
                            {"os_time": {"table": "t", "column": "t"}})


def test_duplicate_ids_rules():
    raw = pd.DataFrame({"id": ["A", "A", "B", "B", "C"], "x": ["1", "1", "1", "2", "3"],
                        "y": ["u", "u", "v", "v", "w"]})
    with pytest.raises(Her2AtlasError, match="occur more than once"):
        clinical.index_table(raw, id_column="id")
    table, summary = clinical.index_table(raw, id_column="id", duplicate_ids="consensus")
    assert summary == {"duplicated_ids": 2, "conflicting_ids": 1}
    assert table.loc["A", "x"] == "1" and table.loc["B", "x"] == "" and table.loc["B", "y"] == "v"


def test_id_length_truncates_barcodes():
    raw = pd.DataFrame({"id": ["TCGA-A1-A0SB-01A", "TCGA-A1-A0SD"], "x": ["1", "2"]})
    table, _ = clinical.index_table(raw, id_column="id", id_length=12)
    assert list(table.index) == ["TCGA-A1-A0SB", "TCGA-A1-A0SD"]


# ---- reading options and derived survival fields ----------------------------------------------
def test_semicolon_file_with_decimal_commas_is_sniffed_and_converted(tmp_path):
    path = tmp_path / "clin.csv"  # a spreadsheet export in a decimal-comma locale
    path.write_text("id;os_months;grade\nS1;12,5;2\nS2;-0,25;3\nS3;7;1,2,3\n", encoding="utf-8")
    table = clinical.read_table_spec(path, {"decimal": ","})
    assert list(table.columns) == ["id", "os_months", "grade"]
    assert table["os_months"].tolist() == ["12.5", "-0.25", "7"]
    assert table["grade"].tolist() == ["2", "3", "1,2,3"]  # not a number: left alone
    declared = clinical.read_table_spec(path, {"delimiter": ";"})
    assert declared["os_months"].tolist() == ["12,5", "-0,25", "7"]  # decimal '.' by default


def test_delimiter_and_decimal_cannot_be_the_same(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("id,x\nS1,1\n")
    with pytest.raises(Her2AtlasError, match="delimiter and decimal mark are both ','"):
        clinical.read_table_spec(path, {"delimiter": ",", "decimal": ","})


def test_xlsx_sheet_is_read_as_strings(tmp_path):
    pytest.importorskip("openpyxl")
    path = tmp_path / "clin.xlsx"
    with pd.ExcelWriter(path) as writer:
        pd.DataFrame({"note": ["cover sheet"]}).to_excel(writer, sheet_name="About", index=False)
        pd.DataFrame({"id": ["S1", "S2"], "os": [12.5, 30], "her2": ["POS", None]}).to_excel(
            writer, sheet_name="Clinical", index=False)
    table = clinical.read_table_spec(path, {"sheet": "Clinical"})
    assert table.to_dict("list") == {"id": ["S1", "S2"], "os": ["12.5", "30"], "her2": ["POS", ""]}
    with pytest.raises(Her2AtlasError, match="cannot read sheet 'Clinic'"):
        clinical.read_table_spec(path, {"sheet": "Clinic"})


def test_weeks_are_converted_to_months():
    table = pd.DataFrame({"t": ["52", "13"]}, index=["a", "b"])
    obs = clinical.map_fields({"x": table}, table.index,
                              {"os_time": {"table": "x", "column": "t", "unit": "weeks"}})
    assert obs["os_time"].tolist() == pytest.approx([52 * 7 / 30.4375, 13 * 7 / 30.4375])


def test_time_from_start_and_end_dates():
    table = pd.DataFrame({"dx": ["2010-01-01", "01.03.2012", "2011-06-01", ""],
                          "last": ["2011-01-01", "2013-03-01", "", "2012-01-01"]},
                         index=list("abcd"))
    spec = {"table": "x", "start_date": "dx", "end_date": "last"}
    with pytest.raises(Her2AtlasError, match=r"1 value\(s\) of 'dx' are not dates: '01.03.2012'"):
        clinical.map_fields({"x": table}, table.index, {"os_time": spec})
    table.loc["b", "dx"] = "2012-03-01"
    obs = clinical.map_fields({"x": table}, table.index, {"os_time": spec})
    assert obs["os_time"].iloc[:2].tolist() == pytest.approx([365 / 30.4375, 365 / 30.4375])
    assert obs["os_time"].iloc[2:].isna().all()  # a missing date: unknown time
    european = pd.DataFrame({"dx": ["31.12.2010"], "last": ["31.12.2011"]}, index=["a"])
    obs = clinical.map_fields({"x": european}, european.index,
                              {"os_time": {**spec, "date_format": "%d.%m.%Y"}})
    assert obs["os_time"].iloc[0] == pytest.approx(365 / 30.4375)


def test_event_from_status_and_cause():
    table = pd.DataFrame({
        "vital": ["Dead", "Dead", "Alive", "Dead", "NA", "Dead"],
        "cause": ["breast cancer", "stroke", "", "", "", "Breast cancer"]}, index=list("abcdef"))
    spec = {"table": "x", "column": "vital", "event_values": ["Dead"],
            "censored_values": ["Alive"], "cause_column": "cause",
            "cause_values": ["breast cancer", "Breast cancer"]}
    obs = clinical.map_fields({"x": table}, table.index, {"dss_event": spec})
    # cancer death = 1; other-cause death and alive = 0; death of unknown cause / no status: NA
    assert obs["dss_event"].astype(float).fillna(-1).tolist() == [1, 0, 0, -1, -1, 1]
    os_spec = {k: v for k, v in spec.items() if not k.startswith("cause")}
    assert clinical.map_fields({"x": table}, table.index, {"os_event": os_spec})[
        "os_event"].astype(float).fillna(-1).tolist() == [1, 1, 0, 1, -1, 1]
    table.loc["c", "vital"] = "Lost"
    with pytest.raises(Her2AtlasError, match=r"neither event_values nor censored_values: 'Lost' \(1\)"):
        clinical.map_fields({"x": table}, table.index, {"os_event": os_spec})


def test_column_errors_list_every_column_and_the_nearest():
    columns = [f"col{i}" for i in range(30)] + ["pCR_status"]
    table = pd.DataFrame([["x"] * 31], columns=columns, index=["a"])
    with pytest.raises(Her2AtlasError) as info:
        clinical.map_fields({"x": table}, table.index, {"pcr": {"table": "x", "column": "pcr_status"}})
    assert "did you mean 'pCR_status'?" in info.value.fix and "'col29'" in info.value.fix
    with pytest.raises(Her2AtlasError) as info:
        clinical.index_table(table, id_column="ID")
    assert "'pCR_status'" in info.value.fix and "'col13'" in info.value.fix


# --- HER2 from IHC, then ISH (tcga_brca_pancan's legacy clinical table) -----------------------

def _pancan_fields() -> dict:
    manifest = yaml.safe_load((REPO / "workflow/cohorts/tcga_brca_pancan.yaml").read_text())
    return manifest["clinical"]["fields"]


# IHC category (BCR IHC_HER2), FISH status -> HER2 call under the standard rule
HER2_RULE = [
    ("Positive", "Negative", "positive"),        # IHC 3+: positive whatever ISH says
    ("Positive", "[Not Evaluated]", "positive"),
    ("Negative", "Positive", "negative"),        # IHC 0/1+: negative
    ("Negative", "[Not Evaluated]", "negative"),
    ("Equivocal", "Positive", "positive"),       # IHC 2+: ISH decides
    ("Equivocal", "Negative", "negative"),
    ("Equivocal", "Equivocal", None),
    ("Equivocal", "[Not Evaluated]", None),
    ("[Not Evaluated]", "Positive", "positive"),  # IHC not done: ISH decides
    ("[Not Available]", "Negative", "negative"),
    ("Indeterminate", "Indeterminate", None),
]


def test_tcga_her2_follows_ihc_then_ish():
    raw = pd.DataFrame({"PATIENT_ID": [f"P{i}" for i in range(len(HER2_RULE))],
                        "IHC_HER2": [ihc for ihc, _, _ in HER2_RULE],
                        "HER2_FISH_STATUS": [fish for _, fish, _ in HER2_RULE],
                        "ER_STATUS_BY_IHC": ["Positive"] * len(HER2_RULE)})
    table, _ = clinical.index_table(raw, id_column="PATIENT_ID")
    fields = {k: v for k, v in _pancan_fields().items() if k in ("her2_status", "er_status")}
    obs = clinical.map_fields({"legacy": table}, table.index, fields)
    got = [None if pd.isna(v) else v for v in obs["her2_status"]]
    assert got == [call for _, _, call in HER2_RULE]


def test_fallback_errors_name_the_fallback_column():
    table, _ = clinical.index_table(pd.DataFrame({"id": ["S1"], "a": ["x"], "b": ["y"]}),
                                    id_column="id")
    spec = {"table": "t", "column": "a", "map": {"x": None},
            "fallback": {"column": "b", "map": {"z": "positive"}}}
    with pytest.raises(Her2AtlasError) as info:
        clinical.map_fields({"t": table}, table.index, {"her2_status": spec})
    assert info.value.field == "clinical.fields.her2_status.fallback.map"
    assert "'y'" in str(info.value)


@needs_shared
def test_tcga_her2_mapping_covers_the_bcr_ihc_calls_of_the_mirror():
    """The BCR IHC calls of ../shared/data/TCGA-BRCA (PROVENANCE, over its 1,090 distinct rows:
    HER2 Positive 164, Negative 558, Equivocal 178, [Not Evaluated] 170, Indeterminate 12,
    [Not Available] 7); the table has no FISH column, so every equivocal call stays unknown."""
    raw = pd.read_csv(SHARED_DATA / "TCGA-BRCA/PathAnalyser_Sample_labels_ER_HER2_IHC.tsv",
                      sep="\t", dtype=str, keep_default_na=False)
    raw = raw.drop_duplicates().rename(columns={"HER2": "IHC_HER2", "ER": "ER_STATUS_BY_IHC"})
    raw["PATIENT_ID"] = [f"row{i}" for i in range(len(raw))]  # distinct rows, as PROVENANCE counts
    raw["HER2_FISH_STATUS"] = "[Not Evaluated]"
    table, _ = clinical.index_table(raw, id_column="PATIENT_ID")
    fields = {k: v for k, v in _pancan_fields().items() if k in ("her2_status", "er_status")}
    obs = clinical.map_fields({"legacy": table}, table.index, fields)
    assert len(obs) == 1090
    assert obs["her2_status"].value_counts().to_dict() == {"negative": 558, "positive": 164}
