"""Snakemake job: score every signature in one cohort."""

import sys
from pathlib import Path

# import her2atlas from src/ when it is not installed (rules run in a bare conda env)
sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))


import anndata as ad

from her2atlas.atomic import write_tsv
from her2atlas.runtime import from_snakemake
from her2atlas.scoring import concordance, score_cohort
from her2atlas.signatures import read_catalogue

with from_snakemake(snakemake) as log:
    adata = ad.read_h5ad(snakemake.input.cohort)
    scores, coverage = score_cohort(
        adata, read_catalogue(snakemake.input.catalogue), methods=snakemake.params.methods,
        min_coverage=snakemake.params.min_coverage, min_genes=snakemake.params.min_genes,
        alpha=snakemake.params.alpha, gsva_kernel=snakemake.params.gsva_kernel,
    )
    for row in coverage.itertuples():
        log.info("%-40s %4d/%-4d %s", row.signature, row.genes_used, row.genes_in_set,
                 row.reason or "scored")
    write_tsv(snakemake.output.scores, scores)
    write_tsv(snakemake.output.coverage, coverage)
    write_tsv(snakemake.output.concordance,
              concordance(scores, cohort=snakemake.wildcards.cohort))
