"""The demo workflow end to end, incremental reruns and clear configuration errors."""

from __future__ import annotations

import re

import pandas as pd
import pytest
import yaml

from her2atlas.demo import write_demo
from her2atlas.scoring import SCORE_COLUMNS

from pipeline_helpers import make_workdir, planned_jobs, snakemake, write_config

pytestmark = pytest.mark.pipeline


def test_demo_report_written_and_self_contained(demo_run):
    report = demo_run / "results/report"
    index = (report / "index.html").read_text()
    for cohort in ("demo_neoadjuvant_a", "demo_neoadjuvant_b", "demo_adjuvant_c",
                   "demo_neoadjuvant_d", "demo_neoadjuvant_e"):
        assert (report / f"cohort_{cohort}.html").is_file()
        assert f'href="cohort_{cohort}.html"' in index
    assert "SYNTHETIC DATA" in index
    assert (report / "signature_KORKAYA2012_IL6_LOOP.html").is_file()
    # nothing is loaded from the network when viewed
    assert not re.search(r'(src|href)="(https?:)?//', index)
    assert (report / "index.html").stat().st_size < 5_000_000
    assert index.count("data:image/png;base64,") >= 5  # forest plots


def test_demo_primary_result_shows_the_planted_effect(demo_run):
    meta = pd.read_csv(demo_run / "results/meta/response.tsv", sep="\t")
    row = meta[(meta.signature == "KORKAYA2012_IL6_LOOP") & (meta.method == "zmean")
               & (meta.model == "logistic")].iloc[0]
    assert row["k"] == 4 and row["effect"] < 1 and row["ci_high"] < 1
    assert row["interval"] == "HKSJ t(3)" and row["analysis"] == "primary"
    assert meta["analysis"].iloc[0] == "primary"  # reported first
    neutral = meta[(meta.signature == "DEMO_NEUTRAL_SYNTHETIC") & (meta.model == "logistic")]
    assert (neutral["ci_low"] < 1).all() or (neutral["ci_high"] > 1).all()
    index = (demo_run / "results/report/index.html").read_text()
    sentence = re.search(r"KORKAYA2012_IL6_LOOP \(zmean\), endpoint pcr, model logistic: "
                         r"pooled OR per SD = ([0-9.]+)", index)
    assert sentence and float(sentence.group(1)) == pytest.approx(row["effect"], abs=0.006)


def test_survival_and_coverage_tables(demo_run):
    surv = pd.read_csv(demo_run / "results/stats/demo_adjuvant_c/survival.tsv", sep="\t")
    cox = surv[(surv.signature == "KORKAYA2012_IL6_LOOP") & (surv.model == "cox")
               & (surv.method == "zmean")].iloc[0]
    assert cox["n"] == 130 and cox["effect"] > 1  # planted: higher IL-6 → worse survival
    cov = pd.read_csv(demo_run / "results/scores/demo_adjuvant_c.coverage.tsv", sep="\t")
    assert set(cov.columns) >= {"signature", "genes_used", "genes_in_set", "scored", "reason"}
    scores = pd.read_csv(demo_run / "results/scores/demo_adjuvant_c.tsv", sep="\t")
    assert list(scores.columns) == SCORE_COLUMNS
    assert set(scores["method"]) == {"zmean", "combined_z", "singscore", "ssgsea", "gsva",
                                     "mrnasi"}


def test_null_and_concordance_tables(demo_run):
    null = pd.read_csv(demo_run / "results/null/demo_neoadjuvant_a.tsv", sep="\t")
    korkaya = null[(null.signature == "KORKAYA2012_IL6_LOOP") & (null.method == "zmean")]
    assert korkaya["n_random"].iloc[0] == 1000
    assert korkaya["p_empirical"].iloc[0] < 0.05  # the planted programme beats random sets
    neutral = null[null.signature == "DEMO_NEUTRAL_SYNTHETIC"]
    assert (neutral["p_empirical"] > 0.05).all()
    conc = pd.read_csv(demo_run / "results/scores/demo_neoadjuvant_a.concordance.tsv", sep="\t")
    assert conc["spearman_rho"].between(-1, 1).all() and len(conc) > 0
    page = (demo_run / "results/report/cohort_demo_neoadjuvant_a.html").read_text()
    assert 'id="null-table"' in page and 'id="concordance-table"' in page


def test_data_strings_are_escaped(demo_run):
    page = (demo_run / "results/report/cohort_demo_neoadjuvant_b.html").read_text()
    assert '<script>alert("x")</script>' not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


def test_adding_a_cohort_reruns_only_its_jobs(demo_run):
    src = demo_run / "workflow/cohorts/demo_neoadjuvant_b.yaml"
    doc = yaml.safe_load(src.read_text())
    doc["id"] = "demo_neoadjuvant_x"
    (demo_run / "workflow/cohorts/demo_neoadjuvant_x.yaml").write_text(yaml.safe_dump(doc))
    cohorts = yaml.safe_load((demo_run / "demo/config.yaml").read_text())["cohorts"]
    write_config(demo_run, "more.yaml", {"cohorts": cohorts + ["demo_neoadjuvant_x"]})
    result = snakemake(demo_run, "--configfile", "demo/config.yaml", "more.yaml", "--dry-run")
    jobs = planned_jobs(result.stdout)
    assert jobs == {"all": 1, "associate": 1, "cohort": 1, "fetch": 1, "meta": 1, "null": 1,
                    "report": 1, "score": 1}, result.stdout
    assert "cohort=demo_neoadjuvant_x" in result.stdout
    assert "cohort=demo_neoadjuvant_a" not in result.stdout


def test_bad_manifest_gives_one_clear_message(demo_run):
    path = demo_run / "workflow/cohorts/demo_neoadjuvant_a.yaml"
    good = path.read_text()
    try:
        path.write_text(good.replace("units: counts", "units: counts\n  normalise: tmm"))
        result = snakemake(demo_run, "--configfile", "demo/config.yaml", "--dry-run", check=False)
    finally:
        path.write_text(good)
    assert result.returncode != 0
    text = result.stdout + result.stderr
    assert "workflow/cohorts/demo_neoadjuvant_a.yaml" in text
    assert "expression.normalise" in text and "unknown key" in text
    assert "Traceback" not in text


def test_bad_config_value_is_named(demo_run):
    write_config(demo_run, "bad.yaml", {"scoring": {"methods": ["zmean", "gsva9"]}})
    result = snakemake(demo_run, "--configfile", "demo/config.yaml", "bad.yaml", "--dry-run",
                       check=False)
    text = result.stdout + result.stderr
    assert result.returncode != 0 and "scoring.methods[1]" in text and "'gsva9'" in text


def test_snakemake_report_zip(demo_run):
    import zipfile

    snakemake(demo_run, "--configfile", "demo/config.yaml", "--report", "report.zip")
    with zipfile.ZipFile(demo_run / "report.zip") as archive:
        names = archive.namelist()
    assert any(n.endswith("report.html") for n in names)
    assert any("forest_KORKAYA2012_IL6_LOOP" in n and n.endswith(".png") for n in names)
    assert any(n.endswith("response.tsv") for n in names)
    assert any(n.endswith("index.html") for n in names)


def test_every_report_table_has_its_tsv(demo_run):
    report = demo_run / "results/report"
    cohorts = pd.read_csv(report / "tables/cohorts.tsv", sep="\t")
    assert set(cohorts["cohort"]) >= {"demo_neoadjuvant_a", "demo_adjuvant_c"}
    heat = pd.read_csv(report / "tables/heatmap.tsv", sep="\t")
    meta = pd.read_csv(demo_run / "results/meta/response.tsv", sep="\t")
    pooled = heat[(heat.cohort == "pooled") & (heat.signature == "KORKAYA2012_IL6_LOOP")
                  & (heat.model == "logistic")]
    ref = meta[(meta.signature == "KORKAYA2012_IL6_LOOP") & (meta.method == "zmean")
               & (meta.model == "logistic")]
    assert pooled["log_effect"].iloc[0] == pytest.approx(ref["log_effect"].iloc[0])
    index = (report / "index.html").read_text()
    # the primary sentence's numbers are the pooled row's numbers
    assert f"pooled OR per SD = {ref['effect'].iloc[0]:.2f}" in index
    assert f"{ref['ci_low'].iloc[0]:.2f}–{ref['ci_high'].iloc[0]:.2f}" in index


def test_two_demo_runs_give_byte_identical_tsvs(demo_run, tmp_path):
    """Determinism: a second, independent run of the demo writes the same bytes."""
    import shutil

    (tmp_path / "again").mkdir()
    work = make_workdir(tmp_path / "again")
    shutil.copy2(demo_run / "workflow/cohorts/demo_neoadjuvant_b.yaml",
                 work / "workflow/cohorts/demo_neoadjuvant_b.yaml")
    write_demo(work / "data/demo")
    snakemake(work, "--configfile", "demo/config.yaml")
    first = sorted(p.relative_to(demo_run) for p in (demo_run / "results").rglob("*.tsv"))
    second = sorted(p.relative_to(work) for p in (work / "results").rglob("*.tsv"))
    assert first == second and len(first) > 30
    # the report's software table holds versions only; every TSV must match
    differ = [str(p) for p in first if (demo_run / p).read_bytes() != (work / p).read_bytes()]
    assert not differ, differ
