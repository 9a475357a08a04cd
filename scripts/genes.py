"""Snakemake jobs of the gene stage: per-cohort gene effects and leading edges (genes_cohort),
and the pooled per-signature gene tables (genes); the rule name decides what runs."""

import sys
from pathlib import Path

# import her2atlas from src/ when it is not installed (rules run in a bare conda env)
sys.path.insert(0, str(Path(snakemake.scriptdir).parent / "src"))


import anndata as ad
import numpy as np
import pandas as pd

from her2atlas.association import Settings
from her2atlas.atomic import write_tsv
from her2atlas.cohort import declared_endpoints
from her2atlas.genes import GENE_COLUMNS, gene_effects_cohort, leading_edge_cohort, pool_gene_tables
from her2atlas.runtime import from_snakemake
from her2atlas.signatures import read_catalogue
from her2atlas.strata import CohortDesign

with from_snakemake(snakemake) as log:
    params = snakemake.params
    if snakemake.rule == "genes":
        tables = [pd.read_csv(p, sep="\t") for p in snakemake.input.cohorts]
        meta = [pd.read_csv(p, sep="\t") for p in (snakemake.input.meta_response,
                                                   snakemake.input.meta_survival)]
        table = pool_gene_tables(tables, meta, min_cohorts=params.min_cohorts,
                                 endpoint_families=params.endpoint_families)
        for signature, path in zip(params.signatures, snakemake.output, strict=True):
            rows = table[table["signature"] == signature]
            log.info("%s: %d rows, %d genes, %d leading", signature, len(rows),
                     rows["gene"].nunique(), int(rows["leading"].fillna(False).astype(bool).sum()))
            write_tsv(path, rows if len(rows) else pd.DataFrame(columns=GENE_COLUMNS))
    else:  # genes_cohort: per-gene effects and leading edges of one cohort
        adata = ad.read_h5ad(snakemake.input.cohort)
        catalogue = read_catalogue(snakemake.input.catalogue)
        design = CohortDesign(**params.design)
        cohort = snakemake.wildcards.cohort
        effects = gene_effects_cohort(
            adata, catalogue, cohort=cohort, design=design,
            endpoints=declared_endpoints(dict(adata.uns["provenance"])),
            settings=Settings.from_config(params.settings),
            max_weight_genes=params.max_weight_genes)
        log.info("%d gene rows, %d genes", len(effects), effects["gene"].nunique())
        edges = leading_edge_cohort(
            adata, catalogue, cohort=cohort, design=design, methods=params.methods,
            scores=pd.read_csv(snakemake.input.scores, sep="\t"), alpha=params.alpha,
            gsva_kernel=params.gsva_kernel,
            gsva_density=np.load(snakemake.input.gsva_density, mmap_mode="r"))
        log.info("%d leading-edge rows", len(edges))
        write_tsv(snakemake.output.effects, effects)
        write_tsv(snakemake.output.leading_edge, edges)
