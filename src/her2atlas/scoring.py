"""Per-sample signature scores, computed within one cohort.

Methods
-------
``zmean``
    Each gene z-scored across the cohort's samples, then the mean over the set's present genes.
``ssgsea``
    Single-sample GSEA (Barbie et al., Nature 2009) with weight ``alpha`` (0.25): genes ranked by
    expression within the sample; the enrichment score is the sum over all positions of the
    running difference between the weighted hit and the uniform miss distributions, kept
    unnormalised so that it does not depend on which other samples or sets were scored.

    Closed form used here: with ``r`` the ascending ranks (1 = lowest, G = highest) of the k set
    genes among G genes, ``ES = Σ r^(1+α) / Σ r^α − (G(G+1)/2 − Σ r) / (G − k)``.
    Ties: tied genes get their average rank, which is exactly the mean ES over every order of
    the tied genes, so the score never depends on the order of genes in the input.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from .errors import Her2AtlasError
from .signatures import Signature, coverage

METHODS = ("zmean", "ssgsea")


def zscore_genes(X: np.ndarray) -> np.ndarray:
    """Z-score each gene (column) across samples (rows); constant genes become 0."""
    mean = np.nanmean(X, axis=0)
    sd = np.nanstd(X, axis=0, ddof=1)
    sd[~np.isfinite(sd) | (sd == 0)] = np.inf
    return (X - mean) / sd


def zmean_scores(Z: np.ndarray, index_sets: list[np.ndarray]) -> np.ndarray:
    """Mean z over each set's genes. ``Z`` is samples × genes; returns samples × sets."""
    out = np.empty((Z.shape[0], len(index_sets)))
    for j, idx in enumerate(index_sets):
        out[:, j] = np.nanmean(Z[:, idx], axis=1)
    return out


def ssgsea_scores(X: np.ndarray, index_sets: list[np.ndarray], *, alpha: float = 0.25) -> np.ndarray:
    """ssGSEA enrichment scores (unnormalised) for samples × genes ``X``; returns samples × sets.

    Parameters
    ----------
    X
        Samples × genes, no missing values.
    index_sets
        Column indices of each set's genes (present genes only, unique).
    alpha
        Weight of the rank in the hit steps (Barbie et al. use 0.25).
    """
    if np.isnan(X).any():
        raise Her2AtlasError("ssGSEA needs a matrix without missing values",
                             fix="drop genes with missing values before scoring")
    n_genes = X.shape[1]
    ranks = rankdata(X, axis=1, method="average")  # ascending, ties averaged
    total = n_genes * (n_genes + 1) / 2.0
    out = np.empty((X.shape[0], len(index_sets)))
    for j, idx in enumerate(index_sets):
        r = ranks[:, idx]
        k = len(idx)
        rw = r**alpha
        hit = (rw * r).sum(axis=1) / rw.sum(axis=1)
        miss = (total - r.sum(axis=1)) / (n_genes - k)
        out[:, j] = hit - miss
    return out


def score_matrix(
    X: np.ndarray,
    genes: pd.Index,
    signatures: list[Signature],
    *,
    methods: list[str],
    alpha: float = 0.25,
) -> dict[str, np.ndarray]:
    """Scores of every method for samples × genes ``X``; sets must be fully present in ``genes``."""
    position = pd.Index(genes)
    index_sets = [position.get_indexer(s.genes) for s in signatures]
    if any((idx < 0).any() for idx in index_sets):
        raise Her2AtlasError("score_matrix needs sets restricted to present genes")
    out: dict[str, np.ndarray] = {}
    for method in methods:
        if method == "zmean":
            out[method] = zmean_scores(zscore_genes(X), index_sets)
        elif method == "ssgsea":
            out[method] = ssgsea_scores(X, index_sets, alpha=alpha)
        else:
            raise Her2AtlasError(f"unknown scoring method {method!r}", file="config.yaml",
                                 field="scoring.methods", fix=f"use: {', '.join(METHODS)}")
    return out


def score_cohort(
    adata,
    signatures: list[Signature],
    *,
    methods: list[str],
    min_coverage: float = 0.5,
    min_genes: int = 3,
    alpha: float = 0.25,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score every signature in one cohort.

    Parameters
    ----------
    adata
        The harmonised cohort (samples × genes, log2).
    signatures
        The catalogue.
    methods
        Subset of :data:`METHODS`.
    min_coverage, min_genes
        Below either, a set's scores are NA and the coverage table gives the reason.
    alpha
        ssGSEA weight.

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        Long scores (``sample, signature, method, score, score_z, genes_used, genes_in_set``)
        and the coverage table.
    """
    X = np.asarray(adata.X, dtype=float)
    genes = pd.Index(adata.var_names)
    complete = ~np.isnan(X).any(axis=0)
    X, genes = X[:, complete], genes[complete]
    cov = coverage(signatures, genes, min_coverage=min_coverage, min_genes=min_genes)
    cov.insert(0, "cohort", adata.uns["provenance"]["cohort"])
    scored = [
        Signature(s.name, [g for g in s.genes if g in set(genes)], s.source, s.role)
        for s, ok in zip(signatures, cov["scored"], strict=True) if ok
    ]
    results = score_matrix(X, genes, scored, methods=methods, alpha=alpha) if scored else {}
    samples = np.asarray(adata.obs_names, dtype=str)
    frames = []
    by_name = cov.set_index("signature")
    for method in methods:
        for sig in signatures:
            row = by_name.loc[sig.name]
            if row["scored"]:
                j = [s.name for s in scored].index(sig.name)
                score = results[method][:, j]
                sd = np.std(score, ddof=1) if len(score) > 1 else 0.0
                score_z = (score - score.mean()) / sd if sd > 0 else np.zeros_like(score)
            else:
                score = np.full(len(samples), np.nan)
                score_z = score
            frames.append(pd.DataFrame({
                "sample": samples, "signature": sig.name, "method": method, "score": score,
                "score_z": score_z, "genes_used": int(row["genes_used"]),
                "genes_in_set": int(row["genes_in_set"]),
            }))
    return pd.concat(frames, ignore_index=True), cov
