"""Snakemake job: random-effects meta-analysis within evidence strata, and model comparisons."""

import sys
from pathlib import Path

# import her2atlas from src/ when it is not installed (rules run in a bare conda env)
sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))


import pandas as pd

from her2atlas.atomic import write_tsv
from her2atlas.meta import compare_models, pool
from her2atlas.runtime import from_snakemake

# unadjusted vs adjusted model pairs pooled over the same cohorts (results/meta/model_comparison)
PAIRS = {"response": [("logistic", "logistic_adj")], "survival": [("cox", "cox_adj")]}

with from_snakemake(snakemake) as log:
    params = snakemake.params
    options = {"min_cohorts": params.min_cohorts, "endpoint_families": params.endpoint_families,
               "fdr_family": params.fdr_family, "primary": params.primary}
    comparisons = []
    for kind in ("response", "survival"):
        tables = [pd.read_csv(p, sep="\t") for p in snakemake.input[kind]]
        pooled = pool(tables, **options)
        log.info("%s: %d pooled rows", kind, len(pooled))
        write_tsv(snakemake.output[kind], pooled)
        for base, other in PAIRS[kind]:
            # no `primary` here: analysis = primary stays unique to results/meta/response.tsv
            comparisons.append(compare_models(
                tables, base, other, **{k: v for k, v in options.items() if k != "primary"}))
    comparison = pd.concat([c for c in comparisons if not c.empty] or comparisons,
                           ignore_index=True)
    log.info("model comparison: %d rows", len(comparison))
    write_tsv(snakemake.output["comparison"], comparison)
