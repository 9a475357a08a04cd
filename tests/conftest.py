"""Shared test fixtures: repository paths and the offline mirror in ../shared/data.

Also sorts the suite for `make test` (pytest-xdist, ``-n 2 --dist loadgroup``): every test that
uses the once-per-session ``demo_run`` or ``real_run`` is marked ``pipeline`` and grouped with
that run, so each run happens once, on one worker, and the two groups (the long poles) are
scheduled first; the unit tests fill the other worker. ``make test-fast`` deselects ``pipeline``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
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


# the session runs, in the order their groups are scheduled (longest first)
SESSION_RUNS = ("demo_run", "real_run")
# tests that run Snakemake in their own scratch copy without a session run (pipeline_helpers
# refuses to run Snakemake from a test that is not marked, so a missing entry shows at once)
OWN_RUNS = {"test_overlap.py::test_a_copy_of_a_cohort_under_another_id_stops_the_run"}


# where xdist workers tell the controller which session run each test belongs to
GROUPS_ENV = "HER2ATLAS_XDIST_GROUPS"


@pytest.hookimpl(tryfirst=True)  # before `-m "not pipeline"` deselects
def pytest_collection_modifyitems(config, items):
    """Mark and group the users of a session run, and schedule those groups first."""
    rank, groups = {}, {}
    for item in items:
        names = getattr(item, "fixturenames", ())
        runs = [run for run in SESSION_RUNS if run in names]
        if runs or item.nodeid.split("/")[-1] in OWN_RUNS:
            item.add_marker(pytest.mark.pipeline)
        if runs:
            item.add_marker(pytest.mark.xdist_group(runs[0]))
            groups[item.nodeid] = runs[0]
        rank[item] = SESSION_RUNS.index(runs[0]) if runs else len(SESSION_RUNS)
    items.sort(key=rank.__getitem__)  # stable: file order within each rank
    path = os.environ.get(GROUPS_ENV)
    if path and hasattr(config, "workerinput"):  # an xdist worker: every worker writes the same
        tmp = f"{path}.{config.workerinput['workerid']}"
        Path(tmp).write_text(json.dumps(groups))
        os.replace(tmp, path)


def pytest_configure(config):
    """On the xdist controller with ``--dist loadgroup``: a file for the workers' groups."""
    if hasattr(config, "workerinput") or getattr(config.option, "dist", "no") != "loadgroup":
        return
    os.environ[GROUPS_ENV] = str(Path(tempfile.mkdtemp(prefix="her2atlas-groups-")) / "groups.json")


def pytest_unconfigure(config):
    path = os.environ.get(GROUPS_ENV)
    if path and not hasattr(config, "workerinput"):
        shutil.rmtree(Path(path).parent, ignore_errors=True)
        del os.environ[GROUPS_ENV]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadgroup`` with the groups above.

    pytest-xdist 3.8 groups by an ``@group`` suffix that it writes into each item's node id;
    pytest 9 computes node ids and drops the suffix, so every test became its own group and each
    worker ran ``demo_run`` itself. This scheduler takes the groups from the workers' file instead.
    """
    if getattr(config.option, "dist", "no") != "loadgroup" or not os.environ.get(GROUPS_ENV):
        return None
    from xdist.scheduler import LoadGroupScheduling

    class SessionRunScheduling(LoadGroupScheduling):
        _groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self._groups is None:  # read once, after every worker has collected
                path = Path(os.environ[GROUPS_ENV])
                self._groups = json.loads(path.read_text()) if path.exists() else {}
            return self._groups.get(nodeid) or super()._split_scope(nodeid)

    return SessionRunScheduling(config, log)


@pytest.hookimpl(tryfirst=True)  # before the fixtures (demo_run, real_run) are set up
def pytest_runtest_setup(item):
    """Tell pipeline_helpers.snakemake whether this test is marked ``pipeline``."""
    os.environ["HER2ATLAS_TEST_PIPELINE"] = "1" if item.get_closest_marker("pipeline") else "0"
