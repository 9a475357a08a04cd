"""The SLURM profile for real, without a cluster: stand-in sbatch/sacct/squeue/scancel/srun."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest

from her2atlas.demo import write_demo

from conftest import REPO
from pipeline_helpers import make_workdir, snakemake

pytestmark = pytest.mark.pipeline
TOOLS = ["sbatch", "sacct", "squeue", "scancel", "srun", "sinfo", "scontrol", "sacctmgr",
         "sshare"]


def _install_standins(bin_dir: Path) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = REPO / "tests" / "slurm_standin.py"
    for tool in TOOLS:
        path = bin_dir / tool
        path.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{script}" "{tool}" "$@"\n')
        path.chmod(path.stat().st_mode | stat.S_IEXEC)


def _tsvs(root: Path) -> dict[str, bytes]:
    out = {}
    for sub in ("scores", "stats", "meta", "null"):
        for path in sorted((root / "results" / sub).rglob("*.tsv")):
            out[str(path.relative_to(root))] = path.read_bytes()
    return out


def test_demo_through_the_slurm_executor_equals_a_local_run(demo_run, tmp_path,
                                                           monkeypatch):
    import shutil

    (tmp_path / "slurm").mkdir()
    work = make_workdir(tmp_path / "slurm")
    # same cohort-B title as the local run, so every output is comparable byte for byte
    shutil.copy2(demo_run / "workflow/cohorts/demo_neoadjuvant_b.yaml",
                 work / "workflow/cohorts/demo_neoadjuvant_b.yaml")
    write_demo(work / "data/demo")
    bin_dir = tmp_path / "bin"
    _install_standins(bin_dir)
    state = tmp_path / "slurm-state"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("SLURM_STANDIN_STATE", str(state))
    snakemake(work, "--profile", "profiles/slurm", "--configfile", "demo/config.yaml",
              "--jobs", "4", "--slurm-init-seconds-before-status-checks", "1",
              "--latency-wait", "5")
    submitted = (state / "sbatch.log").read_text().splitlines()
    # every non-local job went through sbatch; downloads ran on the submit host
    assert len(submitted) >= 20
    assert not any('"fetch' in line and "rule_fetch" in line for line in submitted)
    local, remote = _tsvs(demo_run), _tsvs(work)
    assert local.keys() == remote.keys() and len(local) > 20
    different = [k for k in local if local[k] != remote[k]]
    assert not different, f"outputs differ from the local run: {different[:5]}"
    assert (work / "results/report/index.html").is_file()
