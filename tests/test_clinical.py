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
