"""Run the Snakemake workflow in a scratch copy of the repository (so tests never touch results/)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import REPO

COPIED = ["Snakefile", "config.yaml", "config", "workflow", "scripts", "demo", "envs", "profiles"]


def make_workdir(tmp: Path) -> Path:
    """Copy the workflow files into ``tmp`` and return it."""
    for name in COPIED:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, tmp / name)
        else:
            shutil.copy2(src, tmp / name)
    return tmp


def write_config(workdir: Path, name: str, values: dict) -> Path:
    path = workdir / name
    path.write_text(yaml.safe_dump(values, sort_keys=False))
    return path


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run snakemake with the current interpreter in ``workdir`` (only from a ``pipeline`` test)."""
    if os.environ.get("HER2ATLAS_TEST_PIPELINE") == "0":
        raise AssertionError("this test runs Snakemake: mark it @pytest.mark.pipeline (or use "
                             "demo_run/real_run) so that `make test-fast` leaves it out")
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", *args]
    result = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=900)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed ({result.returncode}):\n{result.stdout[-4000:]}\n"
                             f"{result.stderr[-6000:]}")
    return result


def planned_jobs(output: str) -> dict[str, int]:
    """Parse the 'Job stats' table of a dry run into {rule: count}."""
    jobs: dict[str, int] = {}
    in_table = False
    for line in output.splitlines():
        if line.startswith("Job stats"):
            in_table = True
            continue
        if in_table:
            match = re.match(r"^([A-Za-z_][\w]*)\s+(\d+)$", line.strip())
            if match and match.group(1) != "total":
                jobs[match.group(1)] = int(match.group(2))
            elif line.strip().startswith("total"):
                break
    return jobs
