"""Shared test fixtures: repository paths and the offline mirror in ../shared/data."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
CONFIG_SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
MANIFEST_SCHEMA = REPO / "workflow" / "schemas" / "manifest.schema.yaml"

needs_shared = pytest.mark.skipif(
    not SHARED_DATA.is_dir(),
    reason=f"offline mirror {SHARED_DATA} is absent (real-data tests read ../shared/data in place)",
)


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> Path:
    """The synthetic demo files, generated once per session."""
    from her2atlas.demo import write_demo

    out = tmp_path_factory.mktemp("demo")
    write_demo(out)
    return out


DEMO_TITLE = 'DEMO cohort B <script>alert("x")</script> (SYNTHETIC)'


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> Path:
    """The demo workflow run once per session in a scratch copy (cohort B's title has markup)."""
    import yaml

    from her2atlas.demo import write_demo

    from pipeline_helpers import make_workdir, snakemake

    work = make_workdir(tmp_path_factory.mktemp("demo_run"))
    manifest = work / "workflow/cohorts/demo_neoadjuvant_b.yaml"
    doc = yaml.safe_load(manifest.read_text())
    doc["title"] = DEMO_TITLE  # data-borne strings must be escaped in the report
    manifest.write_text(yaml.safe_dump(doc, sort_keys=False))
    write_demo(work / "data/demo")
    snakemake(work, "--configfile", "demo/config.yaml")
    return work


@pytest.fixture(scope="session")
def real_run(tmp_path_factory) -> Path:
    """The four offline cohorts run once per session, reading ../shared/data in place."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"offline mirror {SHARED_DATA} is absent")
    from pipeline_helpers import make_workdir, snakemake, write_config

    work = make_workdir(tmp_path_factory.mktemp("real_run"))
    write_config(work, "offline_roots.yaml", {"data_roots": [str(SHARED_DATA)]})
    snakemake(work, "--configfile", "config/offline.yaml", "offline_roots.yaml")
    return work
