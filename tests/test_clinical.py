"""Clinical field mapping to the standard vocabulary."""

from __future__ import annotations

import pandas as pd
import pytest

from her2atlas import clinical
from her2atlas.errors import Her2AtlasError


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
