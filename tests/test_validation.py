"""Config and manifest validation: every real file validates; bad ones give clear messages."""

from __future__ import annotations

import copy

import pytest
import yaml

from her2atlas.errors import Her2AtlasError
from her2atlas.manifest import load_manifest
from her2atlas.validation import load_yaml, validate

from conftest import CONFIG_SCHEMA, MANIFEST_SCHEMA, REPO


def _config():
    return load_yaml(REPO / "config.yaml")


@pytest.mark.parametrize("extra", [None, "demo/config.yaml", "config/offline.yaml"])
def test_shipped_configs_validate_and_name_existing_manifests(extra):
    merged = _config()
    if extra:
        merged.update(load_yaml(REPO / extra))
    validate(merged, CONFIG_SCHEMA, file=extra or "config.yaml")
    for cohort in merged["cohorts"]:
        assert (REPO / "workflow" / "cohorts" / f"{cohort}.yaml").is_file(), cohort


@pytest.mark.parametrize("path", sorted((REPO / "workflow" / "cohorts").glob("*.yaml")),
                         ids=lambda p: p.stem)
def test_every_manifest_validates(path):
    manifest = load_manifest(path, MANIFEST_SCHEMA)
    assert manifest["expected"].get("samples", 1) > 0 or manifest.get("unverified")
    assert manifest["expected"] or manifest.get("unverified")  # counts asserted or said unknown


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
