"""Config references checked at start: primary, adjust_controls, cohorts; the file is named."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from her2atlas.errors import Her2AtlasError
from her2atlas.references import check_config, config_problems, config_source, manifest_file

from conftest import CONFIG_SCHEMA, REPO

CONFIG = yaml.safe_load((REPO / "config.yaml").read_text())


@pytest.fixture
def files(tmp_path, monkeypatch):
    """config.yaml plus an override file, as `--configfile` would merge them (cwd = repo)."""
    monkeypatch.chdir(REPO)  # manifests_dir is relative to the repository, as in snakemake
    base = tmp_path / "config.yaml"
    base.write_text((REPO / "config.yaml").read_text())
    return base, tmp_path / "override.yaml"


def _merged(override: dict) -> dict:
    config = copy.deepcopy(CONFIG)
    for key, value in override.items():
        if isinstance(value, dict):
            config[key] = {**config.get(key, {}), **value}
        else:
            config[key] = value
    return config


def _problems(files, override: dict):
    base, extra = files
    extra.write_text(yaml.safe_dump(override))
    return config_problems(_merged(override), CONFIG_SCHEMA, config_files=[base, extra])


def test_the_repository_configs_have_no_problems(files):
    assert config_problems(CONFIG, CONFIG_SCHEMA, config_files=[files[0]]) == []
    offline = yaml.safe_load((REPO / "config/offline.yaml").read_text())
    assert _problems(files, offline) == []


def test_primary_typos_name_the_override_file_and_the_nearest_name(files):
    problems = _problems(files, {"primary": {"signature": "KORKAYA2012_IL6_LOP",
                                             "method": "z_mean", "model": "cox"}})
    by_field = {p.field: p for p in problems}
    assert set(by_field) == {"primary.signature", "primary.method", "primary.model"}
    assert all(p.file == str(files[1]) for p in problems)
    assert "did you mean 'KORKAYA2012_IL6_LOOP'" in by_field["primary.signature"].fix
    assert "did you mean 'zmean'" in by_field["primary.method"].fix
    assert "model 'cox' is not fitted for endpoint 'pcr'" in by_field["primary.model"].message
    assert "'logistic', 'logistic_adj', 'logistic_adj_controls', 'auc'" in \
        by_field["primary.model"].fix


def test_a_model_the_config_switches_off_is_refused(files):
    problems = _problems(files, {"association": {"adjust_controls": []},
                                 "primary": {"model": "logistic_adj_controls"}})
    assert [p.field for p in problems] == ["primary.model"]
    assert "'logistic_adj_controls'" not in problems[0].fix.split("use one of:")[1]


def test_adjust_controls_and_cohorts_are_checked_with_did_you_mean(files):
    problems = _problems(files, {"association": {"adjust_controls": ["CTRL_IMMUNE_CYTOLITIC"]},
                                 "cohorts": ["transneo_her2", "gse42822_trastuzumb"]})
    by_field = {p.field: p for p in problems}
    assert set(by_field) == {"association.adjust_controls", "cohorts"}
    assert "did you mean 'CTRL_IMMUNE_CYTOLYTIC'" in by_field["association.adjust_controls"].fix
    cohort = by_field["cohorts"]
    assert "workflow/cohorts/gse42822_trastuzumb.yaml" in cohort.message
    assert cohort.fix.startswith("did you mean 'gse42822_trastuzumab'")
    assert cohort.file == str(files[1])


def test_schema_problem_names_the_file_holding_the_key(files):
    problems = _problems(files, {"association": {"survival_split": "quartile"}})
    assert [(p.file, p.field) for p in problems] == [(str(files[1]), "association.survival_split")]
    problems = _problems(files, {"meta": {"min_cohort": 2}})
    assert problems[0].file == str(files[1]) and "did you mean 'min_cohorts'" in problems[0].fix


def test_key_set_in_no_file_names_every_file(files):
    assert config_source("primary.era", files) == f"{files[0]}, {files[1]} (or --config)"


def test_check_config_raises_once_with_every_problem(files):
    base, extra = files
    override = {"primary": {"signature": "NOPE"}, "cohorts": ["nope_cohort"]}
    extra.write_text(yaml.safe_dump(override))
    with pytest.raises(Her2AtlasError) as info:
        check_config(_merged(override), CONFIG_SCHEMA, config_files=[base, extra])
    text = str(info.value)
    assert text.startswith("2 problems in the configuration:")
    assert "[primary.signature]" in text and "[cohorts]" in text


def test_manifests_dir_list_finds_a_private_manifest_outside_the_repo(files, tmp_path):
    private = tmp_path / "private_manifests"
    private.mkdir()
    doc = yaml.safe_load((REPO / "workflow/cohorts/demo_neoadjuvant_b.yaml").read_text())
    doc["id"] = "my_private"
    (private / "my_private.yaml").write_text(yaml.safe_dump(doc))
    override = {"manifests_dir": ["workflow/cohorts", str(private)],
                "cohorts": ["gse50948_noah", "my_private"]}
    assert _problems(files, override) == []
    config = _merged(override)
    assert manifest_file(config, "my_private") == private / "my_private.yaml"
    assert manifest_file(config, "gse50948_noah") == Path("workflow/cohorts/gse50948_noah.yaml")
    # one folder (the string form) does not hold the private manifest: both places are named
    problems = _problems(files, {"manifests_dir": "workflow/cohorts",
                                 "cohorts": ["gse50948_noah", "my_private"]})
    assert [p.field for p in problems] == ["cohorts"]
    assert "workflow/cohorts/my_private.yaml" in problems[0].message


def test_manifests_dir_list_is_searched_in_order(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    for folder in (first, second):
        folder.mkdir()
        (folder / "c.yaml").write_text("id: c\n")
    assert manifest_file({"manifests_dir": [str(second), str(first)]}, "c") == second / "c.yaml"
    assert manifest_file({"manifests_dir": [str(first)]}, "missing") == first / "missing.yaml"


def test_manifests_dir_entries_must_be_folders(files):
    problems = _problems(files, {"manifests_dir": ["workflow/cohorts", 3]})
    assert [(p.field, p.message) for p in problems] == [
        ("manifests_dir[1]", "value 3 has the wrong type")]
