"""The SLURM profile for real, without a cluster: stand-in sbatch/sacct/squeue/scancel/srun."""

from __future__ import annotations

import json
import os
import stat
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from her2atlas.demo import write_demo

from conftest import REPO, retitle_demo_b
from pipeline_helpers import make_workdir, planned_jobs, snakemake, write_config

pytestmark = pytest.mark.pipeline
# rules that never reach sbatch: `localrule: True` downloads and the target rule
LOCAL = {"fetch", "fetch_signatures", "fetch_pam50", "all"}
# two of the demo cohorts (raw counts with pCR; log2 FPKM with survival) with the demo's
# signatures, methods and null: every job kind goes through sbatch at a third of the demo's jobs,
# and each cohort's tables must equal the full local run's (a cohort's rows do not depend on the
# other cohorts; the null is seeded per cohort and signature)
COHORTS = ["demo_neoadjuvant_a", "demo_adjuvant_c"]
TOOLS = ["sbatch", "sacct", "squeue", "scancel", "srun", "sinfo", "scontrol", "sacctmgr",
         "sshare"]


def _install_standins(bin_dir: Path) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = REPO / "tests" / "slurm_standin.py"
    for tool in TOOLS:
        path = bin_dir / tool
        path.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{script}" "{tool}" "$@"\n')
        path.chmod(path.stat().st_mode | stat.S_IEXEC)


def _submitted_rule(args: list[str]) -> str:
    """The rule of one sbatch call, from the plugin's ``--comment rule_<name>[_wildcards_...]``."""
    comment = next(args[i + 1] for i, arg in enumerate(args[:-1]) if arg == "--comment")
    assert comment.startswith("rule_"), comment
    return comment.removeprefix("rule_").split("_wildcards_")[0]


def _tsvs(root: Path, cohorts: list[str]) -> dict[str, bytes]:
    """The per-cohort tables (scores, stats, null) of ``cohorts``."""
    out = {}
    for sub in ("scores", "stats", "null"):
        for path in sorted((root / "results/demo" / sub).rglob("*.tsv")):
            name = str(path.relative_to(root / "results/demo" / sub))
            if any(name == c or name.startswith((f"{c}.", f"{c}/")) for c in cohorts):
                out[str(path.relative_to(root))] = path.read_bytes()
    return out


def test_demo_cohorts_through_the_slurm_executor_equal_a_local_run(request, tmp_path,
                                                                    monkeypatch):
    (tmp_path / "slurm").mkdir()
    work = make_workdir(tmp_path / "slurm")
    # same cohort-B title as the local run, so every output is comparable byte for byte
    retitle_demo_b(work)
    write_demo(work / "data/demo")
    write_config(work, "two_cohorts.yaml", {"cohorts": COHORTS})
    bin_dir = tmp_path / "bin"
    _install_standins(bin_dir)
    state = tmp_path / "slurm-state"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("SLURM_STANDIN_STATE", str(state))
    result = snakemake(work, "--profile", "profiles/slurm", "--configfile", "demo/config.yaml",
                       "two_cohorts.yaml", "--jobs", "4", "--slurm-init-seconds-before-status-checks", "1",
                       "--latency-wait", "5")
    demo_run = request.getfixturevalue("demo_run")  # after this run: see conftest.py
    planned = planned_jobs(result.stdout + result.stderr)
    submitted = Counter(_submitted_rule(json.loads(line)["args"])
                        for line in (state / "sbatch.log").read_text().splitlines())
    # downloads are local rules: planned (one per cohort, one for the gene sets) but run on the
    # submit host; every other job went through sbatch exactly once ('all' runs nothing)
    assert set(COHORTS) < set(yaml.safe_load((REPO / "demo/config.yaml").read_text())["cohorts"])
    assert planned["fetch"] == len(COHORTS) and planned["fetch_signatures"] == 1
    assert planned["fetch_pam50"] == 1
    for rule in ("cohort", "score", "null", "associate"):
        assert planned[rule] == len(COHORTS), (rule, planned)
    for rule in ("signatures", "overlap", "meta", "report"):
        assert planned[rule] == 1, (rule, planned)
    assert submitted == Counter({rule: n for rule, n in planned.items() if rule not in LOCAL})
    local, remote = _tsvs(demo_run, COHORTS), _tsvs(work, COHORTS)
    assert local.keys() == remote.keys() and len(local) > 10
    different = [k for k in local if local[k] != remote[k]]
    assert not different, f"outputs differ from the local run: {different[:5]}"
    for sub in ("scores", "stats", "null"):  # nothing but the two cohorts' tables
        assert {str(p.relative_to(work)) for p in (work / "results/demo" / sub).rglob("*.tsv")} <= set(remote)
    assert (work / "results/demo/meta/response.tsv").is_file()
    assert (work / "results/demo/report/index.html").is_file()
