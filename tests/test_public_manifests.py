"""Public GEO manifests checked offline against the real GEO characteristics tables in ../shared.

The tables there carry janitor-cleaned column names (``distant metastasis`` →
``distant_metastasis``); the manifests' raw keys are cleaned the same way to find them. This
checks each field map's vocabulary and the manifest's expected counts on the real values.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest

from her2atlas import clinical
from her2atlas.manifest import load_manifest

from conftest import MANIFEST_SCHEMA, REPO, SHARED_DATA, needs_shared

pytestmark = needs_shared


def _clean(key: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", key.lower()).strip("_")


@pytest.mark.parametrize("cohort, gse", [("gse50948_noah", "GSE50948"), ("gse58984", "GSE58984"),
                                         ("gse20194", "GSE20194")])
def test_manifest_fields_and_counts_on_real_characteristics(cohort, gse):
    manifest = load_manifest(REPO / f"workflow/cohorts/{cohort}.yaml", MANIFEST_SCHEMA)
    raw = clinical.read_table(SHARED_DATA / f"GEO_sample_characteristics/{gse}.tsv")
    table, _ = clinical.index_table(raw, id_column="Sample_ID")
    fields = {}
    for name, spec in manifest["clinical"]["fields"].items():
        spec = dict(spec)
        if "column" in spec:
            spec["column"] = _clean(spec["column"])
        fields[name] = spec
    obs = clinical.map_fields({"geo": table}, pd.Index(table.index), fields)
    counts = clinical.count_summary(obs)
    for key, value in manifest["expected"].items():
        assert counts[key] == value, key
