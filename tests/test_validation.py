"""Config and manifest validation: every real file validates; bad ones give clear messages."""

from __future__ import annotations

import copy

import pytest
import yaml
from snakemake.utils import update_config

from her2atlas.errors import Her2AtlasError
from her2atlas.manifest import load_manifest
from her2atlas.validation import load_yaml, validate

from conftest import CONFIG_SCHEMA, MANIFEST_SCHEMA, REPO


def _config():
    return load_yaml(REPO / "config.yaml")


def _merged(extra: str | None) -> dict:
    """config.yaml with ``extra`` laid over it as ``snakemake --configfile extra`` does.

    Snakemake merges mappings recursively (``snakemake.utils.update_config``): a key the extra
    file does not set keeps config.yaml's value at every depth, and lists replace lists.
    """
    merged = _config()
    if extra:
        update_config(merged, load_yaml(REPO / extra))
    return merged


def _declared_signatures(config: dict) -> set[str]:
    """Names of every signature a config declares (selected sets, custom sets, weights)."""
    section = config["signatures"]
    names = {entry.get("name", entry["set"]) for entry in section.get("select", [])}
    names |= {entry["name"] for entry in section.get("custom", [])}
    names |= {entry["name"] for entry in section.get("weights", [])}
    return names


def test_configs_merge_deeply_as_snakemake_does():
    base = _config()
    demo = _merged("demo/config.yaml")
    # demo/config.yaml sets signatures.{min_coverage, collections, select, weights}; the deep
    # merge keeps config.yaml's signatures.custom and min_genes (a shallow merge drops them)
    assert demo["signatures"]["custom"] == base["signatures"]["custom"]
    assert demo["signatures"]["min_genes"] == base["signatures"]["min_genes"]
    assert demo["signatures"]["select"] == load_yaml(REPO / "demo/config.yaml")["signatures"][
        "select"]
    assert demo["association"] == base["association"] and demo["meta"] == base["meta"]
    offline = _merged("config/offline.yaml")
    assert offline["cohorts"] == ["gse42822_trastuzumab", "transneo_her2", "tcga_brca_subset",
                                  "scanb_gse96058_subset"]
    assert offline["allow_download"] is False and offline["signatures"] == base["signatures"]


@pytest.mark.parametrize("extra", [None, "demo/config.yaml", "config/offline.yaml"])
def test_shipped_configs_validate_and_name_existing_manifests(extra):
    merged = _merged(extra)
    validate(merged, CONFIG_SCHEMA, file=extra or "config.yaml")
    for cohort in merged["cohorts"]:
        assert (REPO / "workflow" / "cohorts" / f"{cohort}.yaml").is_file(), cohort
    # the primary hypothesis names a signature the merged config declares
    assert merged["primary"]["signature"] in _declared_signatures(merged)


@pytest.mark.parametrize("path", sorted((REPO / "workflow" / "cohorts").glob("*.yaml")),
                         ids=lambda p: p.stem)
def test_every_manifest_validates(path):
    manifest = load_manifest(path, MANIFEST_SCHEMA)
    expected = manifest["expected"]
    unverified = str(manifest.get("unverified") or "").strip()
    if not unverified:  # a verified manifest asserts its sample and HER2+ counts
        assert {"samples", "her2_positive"} <= expected.keys(), sorted(expected)
    if "samples" in expected:
        assert expected["samples"] > 0
        over = {k: v for k, v in expected.items() if v > expected["samples"]}
        assert not over, f"counts above the {expected['samples']} samples: {over}"
    else:  # no sample count asserted: the manifest says why, and asserts no partial counts
        assert unverified, "no expected sample count and no `unverified` statement"
        assert expected == {}, sorted(expected)
    for key, events in expected.items():  # x_events <= x_labelled for every endpoint
        labelled = key.replace("_events", "_labelled")
        if key.endswith("_events") and labelled in expected:
            assert events <= expected[labelled], key


def test_unknown_config_key_is_named_with_allowed_keys():
    config = _config()
    config["scoring"]["methdos"] = ["zmean"]
    with pytest.raises(Her2AtlasError) as info:
        validate(config, CONFIG_SCHEMA, file="config.yaml")
    text = str(info.value)
    assert "config.yaml" in text and "scoring.methdos" in text and "unknown key" in text
    assert "methods" in text  # the allowed keys are listed


def test_wrong_type_and_enum():
    config = _config()
    config["signatures"]["min_coverage"] = "half"
    with pytest.raises(Her2AtlasError, match=r"signatures\.min_coverage.*wrong type"):
        validate(config, CONFIG_SCHEMA, file="config.yaml")
    config = _config()
    config["scoring"]["methods"] = ["gsva9"]
    with pytest.raises(Her2AtlasError, match=r"scoring\.methods\[0\].*not allowed"):
        validate(config, CONFIG_SCHEMA, file="config.yaml")


def _write_manifest(tmp_path, mutate, name="demo_neoadjuvant_a"):
    manifest = yaml.safe_load((REPO / "workflow/cohorts/demo_neoadjuvant_a.yaml").read_text())
    manifest = copy.deepcopy(manifest)
    mutate(manifest)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(manifest))
    return path


def test_manifest_unknown_key_and_undeclared_file(tmp_path):
    path = _write_manifest(tmp_path, lambda m: m["expression"].update(unitz="log2"))
    with pytest.raises(Her2AtlasError, match=r"expression\.unitz"):
        load_manifest(path, MANIFEST_SCHEMA)
    path = _write_manifest(tmp_path, lambda m: m["expression"].update(files=["nope.tsv"]))
    with pytest.raises(Her2AtlasError, match="'nope.tsv' is used but not declared"):
        load_manifest(path, MANIFEST_SCHEMA)


def test_manifest_path_escape_and_unsafe_id(tmp_path):
    def escape(m):
        m["files"][0]["path"] = "../../etc/passwd"
    path = _write_manifest(tmp_path, escape)
    with pytest.raises(Her2AtlasError, match="not a safe relative path"):
        load_manifest(path, MANIFEST_SCHEMA)
    path = _write_manifest(tmp_path, lambda m: m.update(id="bad id/x"), name="bad_id")
    with pytest.raises(Her2AtlasError, match="does not match the pattern"):
        load_manifest(path, MANIFEST_SCHEMA)


def test_missing_manifest_file():
    with pytest.raises(Her2AtlasError, match="file not found"):
        load_manifest(REPO / "workflow/cohorts/does_not_exist.yaml", MANIFEST_SCHEMA)


def test_missing_manifest_names_the_nearest_file_and_the_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(Her2AtlasError) as info:
        load_manifest(REPO / "workflow/cohorts/transneo_her.yaml")
    fix = info.value.fix
    assert fix.startswith("did you mean 'transneo_her2.yaml'?")
    assert str(REPO / "workflow/cohorts/transneo_her.yaml") in fix and str(tmp_path) in fix


def test_default_schema_does_not_depend_on_the_working_directory(tmp_path, monkeypatch):
    from her2atlas.validation import default_schema

    monkeypatch.chdir(tmp_path)
    assert default_schema("manifest") == MANIFEST_SCHEMA
    assert load_manifest(REPO / "workflow/cohorts/demo_neoadjuvant_b.yaml")["id"] == \
        "demo_neoadjuvant_b"


def test_schema_problems_lists_every_violation():
    from her2atlas.validation import schema_problems

    config = _config()
    config["assocation"] = {}
    config["scoring"]["methods"] = ["zmean", "gsva9"]
    config["meta"]["min_cohorts"] = "two"
    problems = schema_problems(config, CONFIG_SCHEMA)
    assert [p[0] for p in problems] == ["assocation", "meta.min_cohorts", "scoring.methods[1]"]
    assert "did you mean 'association'" in problems[0][2]
