"""One patient counts once: configured cohorts that share samples or patients stop the run."""

from __future__ import annotations

import pandas as pd
import pytest

from her2atlas.errors import Her2AtlasError
from her2atlas.manifest import load_manifest
from her2atlas.overlap import check_manifests, check_samples

SCHEMA = "workflow/schemas/manifest.schema.yaml"


def _manifest(cohort: str) -> dict:
    return load_manifest(f"workflow/cohorts/{cohort}.yaml", SCHEMA, geo_base_url="http://x")


def test_two_manifests_of_one_series_stop_unless_one_is_a_declared_subset():
    full, arm = _manifest("gse42822_full"), _manifest("gse42822_trastuzumab")
    assert arm["subset_of"] == "gse42822_full"
    check_manifests({"gse42822_full": full, "gse42822_trastuzumab": arm})  # declared: fine
    copy = {**full, "id": "gse42822_copy"}
    with pytest.raises(Her2AtlasError) as info:
        check_manifests({"gse42822_full": full, "gse42822_copy": copy}, file="my.yaml")
    text = str(info.value)
    assert "gse42822_copy and gse42822_full both read GSE42822" in text
    assert text.startswith("my.yaml [cohorts]")
    assert "subset_of: <parent id>" in text


def test_every_shipped_configuration_passes_the_manifest_check():
    import yaml

    for config in ("config.yaml", "config/offline.yaml", "demo/config.yaml"):
        cohorts = yaml.safe_load(open(config, encoding="utf-8"))["cohorts"]
        check_manifests({c: _manifest(c) for c in cohorts}, file=config)


def test_shared_samples_or_patients_between_cohorts_stop_with_both_ids():
    a = pd.DataFrame({"patient_id": ["P1", "P2", "P3"]}, index=["s1", "s2", "s3"])
    b = pd.DataFrame({"patient_id": ["P3", "P4"]}, index=["t1", "t2"])  # P3 in both
    c = pd.DataFrame(index=["s2", "u1"])  # sample s2 re-used
    with pytest.raises(Her2AtlasError) as info:
        check_samples({"a": a, "b": b, "c": c}, {"a": {}, "b": {}, "c": {}})
    text = str(info.value)
    assert "a and b share 0 sample id(s) and 1 patient id(s) (e.g. P3)" in text
    assert "a and c share 1 sample id(s) and 0 patient id(s) (e.g. s2)" in text
    table = check_samples({"a": a, "c": c}, {"a": {}, "c": {"subset_of": "a"}})
    assert table.to_dict("records") == [{"cohort_a": "a", "cohort_b": "c", "shared_samples": 1,
                                         "shared_patients": 0, "relation": "subset"}]


def test_a_copy_of_a_cohort_under_another_id_stops_the_run(tmp_path, demo_dir):
    """The demo's cohort A configured twice (as itself and as a copy): the run stops, naming both."""
    import yaml

    from pipeline_helpers import make_workdir, snakemake, write_config

    work = make_workdir(tmp_path)
    src = work / "workflow/cohorts/demo_neoadjuvant_a.yaml"
    doc = yaml.safe_load(src.read_text())
    doc["id"] = "demo_copy_of_a"
    (work / "workflow/cohorts/demo_copy_of_a.yaml").write_text(yaml.safe_dump(doc))
    write_config(work, "dup.yaml", {"cohorts": ["demo_neoadjuvant_a", "demo_copy_of_a"],
                                    "data_roots": [str(demo_dir)]})
    result = snakemake(work, "--configfile", "demo/config.yaml", "dup.yaml", "--until",
                       "overlap", check=False)
    assert result.returncode != 0
    log = (work / "logs/overlap.log").read_text()
    assert ("demo_copy_of_a and demo_neoadjuvant_a share 140 sample id(s) and 0 patient id(s)"
            in log)
    assert "fix: drop one of the two from 'cohorts'" in log
    assert not (work / "results/demo/qc/overlap.tsv").exists()
