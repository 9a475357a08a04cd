"""Reproducible environments: the conda env pins what the pip set-up pins; profiles parse."""

from __future__ import annotations

import yaml

from conftest import REPO


def _lock() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    return pins


def test_conda_env_pins_the_same_versions_as_requirements_lock():
    env = yaml.safe_load((REPO / "envs/her2atlas.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    conda_pins = {}
    for item in pip:
        name, version = item.split("==")
        conda_pins[name.lower().replace("_", "-")] = version
    lock = _lock()
    assert conda_pins == lock
    assert "python=3.11" in env["dependencies"]


def test_every_rule_declares_conda_log_benchmark_and_resources():
    text = "".join(p.read_text() for p in sorted((REPO / "workflow/rules").glob("*.smk")))
    rules = [block for block in text.split("\nrule ")[1:]]
    assert len(rules) >= 9
    for block in rules:
        name = block.split(":")[0]
        for directive in ("conda:", "log:", "benchmark:", "threads:", "runtime="):
            assert directive in block, f"rule {name} lacks {directive}"


def test_profiles_are_valid_yaml_with_comments():
    for name, executor in (("default", None), ("slurm", "slurm"), ("kubernetes", "kubernetes")):
        path = REPO / "profiles" / name / "config.yaml"
        config = yaml.safe_load(path.read_text())
        assert config.get("executor") == executor
        lines = path.read_text().splitlines()
        settings = [x for x in lines if x and not x.startswith(("#", " "))]
        comments = [x for x in lines if x.lstrip().startswith("#")]
        assert len(comments) >= len(settings) // 2, f"{name}: settings need comments"


def test_snakemake_lint_is_clean():
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "snakemake", "--lint", "--configfile",
                             "demo/config.yaml"], cwd=REPO, capture_output=True, text=True,
                            timeout=120)
    assert "Congratulations" in result.stdout + result.stderr, result.stdout + result.stderr
