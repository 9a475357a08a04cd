"""Snakemake job: write the self-contained HTML report."""

import sys
from pathlib import Path

# import her2atlas from src/ when it is not installed (rules run in a bare conda env)
sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))


from pathlib import Path

from her2atlas.report import build_report
from her2atlas.report_folder import remove_stale_pages
from her2atlas.runtime import from_snakemake

with from_snakemake(snakemake) as log:
    inputs = {key: list(snakemake.input[key]) for key in
              ("qc", "cohorts", "scores", "coverage", "score_qc", "concordance", "null",
                          "response", "survival")}
    inputs.update(meta_response=snakemake.input.meta_response,
                  meta_survival=snakemake.input.meta_survival,
                  catalogue=snakemake.input.catalogue, genes=list(snakemake.input.genes))
    build_report(
        inputs=inputs, cohorts=list(snakemake.params.cohorts), out_index=snakemake.output.index,
        out_dir=str(Path(snakemake.output.index).parent),
        signature_names=[Path(p).stem.removeprefix("signature_") for p in snakemake.output.signatures],
        config=dict(snakemake.params.config), title=snakemake.params.title,
        primary=snakemake.params.primary, workers=snakemake.threads,
    )
    # only this run's pages: a previous config's cohort/signature pages are removed
    for page in remove_stale_pages(Path(snakemake.output.index).parent,
                                   [*snakemake.output.cohorts, *snakemake.output.signatures]):
        log.info("removed %s (not part of this run)", page)
    log.info("report written to %s", snakemake.output.index)
