"""Snakemake job: random-effects meta-analysis across cohorts."""

import sys
from pathlib import Path

# import her2atlas from src/ when it is not installed (rules run in a bare conda env)
sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))


import pandas as pd

from her2atlas.atomic import write_tsv
from her2atlas.meta import pool
from her2atlas.runtime import from_snakemake

with from_snakemake(snakemake) as log:
    for kind in ("response", "survival"):
        tables = [pd.read_csv(p, sep="\t") for p in snakemake.input[kind]]
        pooled = pool(tables, min_cohorts=snakemake.params.min_cohorts,
                      fdr_family=snakemake.params.fdr_family,
                      hksj_below=snakemake.params.hksj_below, primary=snakemake.params.primary)
        log.info("%s: %d pooled rows", kind, len(pooled))
        write_tsv(snakemake.output[kind], pooled)
