"""Per-sample signature scores, computed within one cohort (scores are never pooled across cohorts).

Methods (kernels in :mod:`her2atlas.score_methods`)
---------------------------------------------------
``zmean``       mean of per-gene z-scores (z within the cohort).
``combined_z``  Lee et al. 2008: Σ z / √k.
``singscore``   Foroutan et al. 2018: rank-based and single-sample; centred score in [−0.5, 0.5]
                and the MAD dispersion of the set's ranks.
``ssgsea``      Barbie et al. 2009 (weight α = 0.25), unnormalised ES so a sample's score does not
                depend on other samples or sets. Closed form: with ascending ranks r of the k set
                genes among G, ``ES = Σ r^(1+α)/Σ r^α − (G(G+1)/2 − Σ r)/(G − k)``. Tie rule: tied
                genes take their average rank, which equals the mean ES over every order of the
                ties, so the score never depends on the order of genes in the input.
``gsva``        Hänzelmann et al. 2013: Gaussian kernel on log-scale data, Poisson kernel on raw
                counts (when the cohort kept them), max-diff ES; equal to ``gseapy.gsva``.
``mrnasi``      Malta et al. 2018: Spearman ρ with the stemness weights (``score``) and the cohort
                min–max scaled 0–1 index (``scaled_index``); applies to weight signatures only.

Up/down signatures score ``up − down`` with every set method (for singscore this equals the
reference's TotalScore).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from . import score_methods as km
from .errors import Her2AtlasError
from .signatures import Signature, coverage

SET_METHODS = ("zmean", "combined_z", "singscore", "ssgsea", "gsva")
WEIGHT_METHODS = ("mrnasi",)
METHODS = SET_METHODS + WEIGHT_METHODS
SCORE_COLUMNS = ["sample", "signature", "method", "score", "score_z", "genes_used",
                 "genes_in_set", "dispersion", "scaled_index"]


def ssgsea_scores(X: np.ndarray, index_sets: list[np.ndarray], *, alpha: float = 0.25) -> np.ndarray:
    """ssGSEA ES for samples × genes ``X`` (convenience wrapper over the kernel)."""
    if np.isnan(X).any():
        raise Her2AtlasError("ssGSEA needs a matrix without missing values",
                             fix="drop genes with missing values before scoring")
    return km.ssgsea(km.ascending_ranks(X), index_sets, alpha=alpha)


class _Prepared:
    """Lazily computed per-cohort transforms shared by the methods (each computed once)."""

    def __init__(self, X: np.ndarray, counts: np.ndarray | None, gsva_kernel: str) -> None:
        self.X = X
        self.counts = counts
        self.gsva_kernel = gsva_kernel
        self._cache: dict[str, np.ndarray] = {}

    def get(self, what: str) -> np.ndarray:
        if what not in self._cache:
            if what == "z":
                self._cache[what] = km.zscore_genes(self.X)
            elif what == "avg_ranks":
                self._cache[what] = km.ascending_ranks(self.X, ties="average")
            elif what == "min_ranks":
                self._cache[what] = km.ascending_ranks(self.X, ties="min")
            elif what == "gsva":
                use_counts = self.counts is not None and self.gsva_kernel in ("auto", "poisson")
                kernel = "poisson" if use_counts else "gaussian"
                data = self.counts if use_counts else self.X
                self._cache[what] = km.gsva_density(data, kernel=kernel)
        return self._cache[what]


def _set_scores(method: str, prep: _Prepared, sets: list[np.ndarray],
                alpha: float) -> tuple[np.ndarray, np.ndarray | None]:
    if method == "zmean":
        return km.zmean(prep.get("z"), sets), None
    if method == "combined_z":
        return km.combined_z(prep.get("z"), sets), None
    if method == "singscore":
        return km.singscore(prep.get("min_ranks"), sets)
    if method == "ssgsea":
        return km.ssgsea(prep.get("avg_ranks"), sets, alpha=alpha), None
    if method == "gsva":
        return km.gsva(prep.get("gsva"), sets), None
    raise Her2AtlasError(f"unknown scoring method {method!r}", file="config.yaml",
                         field="scoring.methods", fix=f"use: {', '.join(METHODS)}")


def score_matrix(X: np.ndarray, genes: pd.Index, signatures: list[Signature], *,
                 methods: list[str], alpha: float = 0.25, counts: np.ndarray | None = None,
                 gsva_kernel: str = "auto") -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """Scores (and dispersions) of every method for set signatures fully present in ``genes``.

    Returns
    -------
    dict
        method → (samples × signatures scores, dispersion or None).
    """
    position = pd.Index(genes)
    up = [position.get_indexer(s.genes) for s in signatures]
    down = [position.get_indexer(s.down) for s in signatures]
    if any((i < 0).any() for i in up + down):
        raise Her2AtlasError("score_matrix needs sets restricted to present genes")
    prep = _Prepared(X, counts, gsva_kernel)
    out = {}
    has_down = [j for j, d in enumerate(down) if len(d)]
    for method in methods:
        if method in WEIGHT_METHODS:
            continue
        scores, dispersion = _set_scores(method, prep, up, alpha)
        if has_down:
            d_scores, d_disp = _set_scores(method, prep, [down[j] for j in has_down], alpha)
            scores[:, has_down] -= d_scores
            if dispersion is not None:
                dispersion[:, has_down] += d_disp
        out[method] = (scores, dispersion)
    return out


def _present(sig: Signature, present: set[str]) -> Signature:
    return Signature(sig.name, [g for g in sig.genes if g in present], sig.source, sig.role,
                     sig.description, down=[g for g in sig.down if g in present],
                     weights=None if sig.weights is None else
                     {g: w for g, w in sig.weights.items() if g in present})


def _standardise(score: np.ndarray) -> np.ndarray:
    ok = np.isfinite(score)
    if ok.sum() < 2:
        return np.full_like(score, np.nan)
    sd = np.std(score[ok], ddof=1)
    return (score - np.mean(score[ok])) / sd if sd > 0 else np.zeros_like(score)


def score_cohort(
    adata,
    signatures: list[Signature],
    *,
    methods: list[str],
    min_coverage: float = 0.5,
    min_genes: int = 3,
    alpha: float = 0.25,
    gsva_kernel: str = "auto",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score every signature in one cohort.

    Parameters
    ----------
    adata
        The harmonised cohort (samples × genes, log2); ``layers["counts"]`` (if present) feeds
        the Poisson GSVA kernel.
    signatures
        The catalogue (gene sets, up/down sets and weight signatures).
    methods
        Subset of :data:`METHODS`; set methods score gene sets, ``mrnasi`` scores weight
        signatures.
    min_coverage, min_genes
        Below either, a signature's scores are NA and the coverage table gives the reason.
    alpha
        ssGSEA weight.
    gsva_kernel
        ``auto`` (Poisson on raw counts when the cohort has them, else Gaussian), ``gaussian``
        or ``poisson``.

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame)
        Long scores (:data:`SCORE_COLUMNS`) and the coverage table.
    """
    X = np.asarray(adata.X, dtype=float)
    genes = pd.Index(adata.var_names)
    complete = ~np.isnan(X).any(axis=0)
    X, genes = X[:, complete], genes[complete]
    counts = None
    if "counts" in getattr(adata, "layers", {}):
        counts = np.asarray(adata.layers["counts"], dtype=float)[:, complete]
    cov = coverage(signatures, genes, min_coverage=min_coverage, min_genes=min_genes)
    cov.insert(0, "cohort", adata.uns["provenance"]["cohort"])
    present = set(genes)
    ok = dict(zip(cov["signature"], cov["scored"], strict=True))
    gene_sets = [_present(s, present) for s in signatures if s.weights is None and ok[s.name]]
    weighted = [_present(s, present) for s in signatures if s.weights is not None and ok[s.name]]
    results = score_matrix(X, genes, gene_sets, methods=methods, alpha=alpha, counts=counts,
                           gsva_kernel=gsva_kernel) if gene_sets else {}
    set_index = {s.name: j for j, s in enumerate(gene_sets)}
    samples = np.asarray(adata.obs_names, dtype=str)
    n = len(samples)
    by_name = cov.set_index("signature")
    frames = []
    for method in methods:
        for sig in signatures:
            applicable = (method in WEIGHT_METHODS) == (sig.weights is not None)
            if not applicable:
                continue
            row = by_name.loc[sig.name]
            score = np.full(n, np.nan)
            dispersion = np.full(n, np.nan)
            scaled = np.full(n, np.nan)
            if row["scored"] and sig.weights is None:
                values, disp = results[method]
                score = values[:, set_index[sig.name]]
                if disp is not None:
                    dispersion = disp[:, set_index[sig.name]]
            elif row["scored"]:
                w = next(s for s in weighted if s.name == sig.name).weights
                idx = genes.get_indexer(list(w))
                score, scaled = km.mrnasi(X[:, idx], np.fromiter(w.values(), float))
            frames.append(pd.DataFrame({
                "sample": samples, "signature": sig.name, "method": method, "score": score,
                "score_z": _standardise(score), "genes_used": int(row["genes_used"]),
                "genes_in_set": int(row["genes_in_set"]), "dispersion": dispersion,
                "scaled_index": scaled,
            }))
    if not frames:
        return pd.DataFrame(columns=SCORE_COLUMNS), cov
    return pd.concat(frames, ignore_index=True)[SCORE_COLUMNS], cov


def concordance(scores: pd.DataFrame, *, cohort: str) -> pd.DataFrame:
    """Spearman correlation between every pair of methods, per signature, across samples."""
    rows = []
    for signature, grp in scores.dropna(subset=["score"]).groupby("signature", sort=False):
        wide = grp.pivot(index="sample", columns="method", values="score")
        methods = list(wide.columns)
        for i, a in enumerate(methods):
            for b in methods[i + 1:]:
                pair = wide[[a, b]].dropna()
                rho = spearmanr(pair[a], pair[b]).statistic if len(pair) > 2 else np.nan
                rows.append({"cohort": cohort, "signature": signature, "method_a": a,
                             "method_b": b, "n": len(pair), "spearman_rho": float(rho)})
    return pd.DataFrame(rows, columns=["cohort", "signature", "method_a", "method_b", "n",
                                       "spearman_rho"])
