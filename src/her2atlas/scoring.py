"""Per-sample signature scores, computed within one cohort (scores are never pooled across cohorts).

Methods (kernels in :mod:`her2atlas.score_methods`)
---------------------------------------------------
``zmean``       mean of per-gene z-scores (z within the cohort).
``combined_z``  Lee et al. 2008: Σ z / √k. For a plain set this is √k · ``zmean``, so its per-SD
                effects and p equal zmean's; it is therefore produced only for up/down sets whose
                up and down parts have different numbers of genes present (√k_up · zmean_up −
                √k_down · zmean_down, which is not a multiple of zmean's up − down).
``singscore``   Foroutan et al. 2018: rank-based and single-sample; centred score in [−0.5, 0.5]
                and the MAD dispersion of the set's ranks.
``ssgsea``      Barbie et al. 2009 (weight α = 0.25), unnormalised ES so a sample's score does not
                depend on other samples or sets. Closed form: with ascending ranks r of the k set
                genes among G, ``ES = Σ r^(1+α)/Σ r^α − (G(G+1)/2 − Σ r)/(G − k)``. Tie rule: tied
                genes take their average rank, which equals the mean ES over every order of the
                ties, so the score never depends on the order of genes in the input.
``gsva``        Hänzelmann et al. 2013: Gaussian kernel on log-scale data, Poisson kernel on raw
                counts (when the cohort kept them), max-diff ES. As R GSVA does, genes constant
                across the cohort's samples (e.g. zero counts everywhere) are dropped from the
                matrix before the kernel, before sets are mapped and before the set-size rules
                (``min_genes``, ``min_coverage``) are applied; equal to R GSVA 1.46 and to
                ``gseapy.gsva`` on the filtered matrix.
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
GSVA_FILTER_RULE = ("genes with SD < 1e-10 (or undefined) across the cohort's samples in the "
                    "matrix the GSVA kernel sees are dropped before sets are mapped and sized, "
                    "as R GSVA 1.46 .filterFeatures does")
COMBINED_Z_RULE = ("combined_z is produced only for up/down sets whose up and down parts have "
                   "different numbers of genes present; otherwise it is a multiple of zmean")


def ssgsea_scores(X: np.ndarray, index_sets: list[np.ndarray], *, alpha: float = 0.25) -> np.ndarray:
    """ssGSEA ES for samples × genes ``X`` (convenience wrapper over the kernel)."""
    if np.isnan(X).any():
        raise Her2AtlasError("ssGSEA needs a matrix without missing values",
                             fix="drop genes with missing values before scoring")
    return km.ssgsea(km.ascending_ranks(X), index_sets, alpha=alpha)


def gsva_input(X: np.ndarray, counts: np.ndarray | None,
               gsva_kernel: str) -> tuple[np.ndarray, str, str]:
    """The matrix GSVA runs on, its kernel and a label: (data, kernel, "counts" or "log2").

    ``auto`` and ``poisson`` use the raw counts when the cohort kept them; otherwise the log2
    values with the Gaussian kernel.
    """
    if counts is not None and gsva_kernel in ("auto", "poisson"):
        return counts, "poisson", "counts"
    return X, "gaussian", "log2"


def combined_z_reason(sig: Signature) -> str:
    """Why ``combined_z`` is not produced for ``sig`` ("" when it is).

    ``sig`` holds the genes present in the cohort (up and down). Without a down list, and with
    up and down parts of equal size k, combined z is √k times zmean (same per-SD effects and p).
    """
    if not sig.down:
        return "no down list: combined_z = sqrt(k) * zmean"
    if len(sig.genes) == len(sig.down):
        return (f"up and down parts both have {len(sig.genes)} genes present: "
                "combined_z = sqrt(k) * zmean")
    return ""


class _Prepared:
    """Lazily computed per-cohort transforms shared by the methods (each computed once)."""

    def __init__(self, X: np.ndarray, counts: np.ndarray | None, gsva_kernel: str,
                 set_genes: np.ndarray | None = None) -> None:
        self.X = X
        self.counts = counts
        self.gsva_kernel = gsva_kernel
        #: columns of every set scored: z statistics are computed for these genes only
        self.set_genes = set_genes
        self._cache: dict[str, np.ndarray] = {}
        self._z_stats: tuple[np.ndarray, np.ndarray] | None = None

    def _gsva_density(self) -> np.ndarray:
        data, kernel, _ = gsva_input(self.X, self.counts, self.gsva_kernel)
        keep = self.get("gsva_keep")
        if keep.sum() < 2:  # R GSVA stops: "Less than two genes in the input assay object"
            return np.empty((data.shape[0], 0))
        return km.gsva_density(data if keep.all() else data[:, keep], kernel=kernel)

    def z_stats(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-gene mean and SD of the set genes (each set's z-scores are formed per set)."""
        if self._z_stats is None:
            self._z_stats = km.gene_zstats(self.X, self.set_genes)
        return self._z_stats

    def get(self, what: str) -> np.ndarray:
        if what not in self._cache:
            if what == "avg_ranks":
                self._cache[what] = km.ascending_ranks(self.X, ties="average")
            elif what == "min_ranks":
                self._cache[what] = km.ascending_ranks(self.X, ties="min")
            elif what == "gsva_keep":
                data, _, _ = gsva_input(self.X, self.counts, self.gsva_kernel)
                self._cache[what] = ~km.constant_genes(data)
            elif what == "gsva":
                self._cache[what] = self._gsva_density()
        return self._cache[what]


def _gsva_scores(prep: _Prepared, sets: list[np.ndarray]) -> np.ndarray:
    """GSVA on the non-constant genes; sets lose their constant genes (empty sets: NaN)."""
    density = prep.get("gsva")
    out = np.full((prep.X.shape[0], len(sets)), np.nan)
    if density.shape[1] == 0:
        return out
    kept = km.restrict_sets(sets, prep.get("gsva_keep"))
    return km.gsva(density, kept)


def _set_scores(method: str, prep: _Prepared, sets: list[np.ndarray],
                alpha: float) -> tuple[np.ndarray, np.ndarray | None]:
    if method == "zmean":
        return km.zmean(prep.X, sets, stats=prep.z_stats()), None
    if method == "singscore":
        return km.singscore(prep.get("min_ranks"), sets)
    if method == "ssgsea":
        return km.ssgsea(prep.get("avg_ranks"), sets, alpha=alpha), None
    if method == "gsva":
        return _gsva_scores(prep, sets), None
    raise Her2AtlasError(f"unknown scoring method {method!r}", file="config.yaml",
                         field="scoring.methods", fix=f"use: {', '.join(METHODS)}")


def score_matrix(X: np.ndarray, genes: pd.Index, signatures: list[Signature], *,
                 methods: list[str], alpha: float = 0.25, counts: np.ndarray | None = None,
                 gsva_kernel: str = "auto", shared: dict | None = None,
                 ) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """Scores (and dispersions) of every method for set signatures fully present in ``genes``.

    GSVA runs on the genes that are not constant across samples (:func:`gsva_input` decides
    the matrix); ``combined_z`` columns of sets it does not apply to
    (:func:`combined_z_reason`) are NaN. When ``shared`` is a dict and GSVA ran, the GSVA
    density (samples × non-constant genes) is put under ``shared["gsva_density"]`` so the
    leading-edge step can reuse it instead of computing the kernel again.

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
    set_genes = np.unique(np.concatenate([np.empty(0, np.intp), *up, *down]))
    prep = _Prepared(X, counts, gsva_kernel, set_genes)
    out = {}
    has_down = [j for j, d in enumerate(down) if len(d)]
    for method in methods:
        if method in WEIGHT_METHODS:
            continue
        if method == "combined_z":  # up/down sets only: Σz_up/√k_up − Σz_down/√k_down
            cols = [j for j, sig in enumerate(signatures) if not combined_z_reason(sig)]
            scores = np.full((X.shape[0], len(signatures)), np.nan)
            if cols:
                stats = prep.z_stats()
                scores[:, cols] = (km.combined_z(X, [up[j] for j in cols], stats=stats)
                                   - km.combined_z(X, [down[j] for j in cols], stats=stats))
            out[method] = (scores, None)
            continue
        scores, dispersion = _set_scores(method, prep, up, alpha)
        if has_down:
            d_scores, d_disp = _set_scores(method, prep, [down[j] for j in has_down], alpha)
            scores[:, has_down] -= d_scores
            if dispersion is not None:
                dispersion[:, has_down] += d_disp
        out[method] = (scores, dispersion)
    if shared is not None and "gsva" in prep._cache:
        shared["gsva_density"] = prep._cache["gsva"]
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


def _gsva_size_reason(sig: Signature, kept: set[str], in_set: int, *, min_coverage: float,
                      min_genes: int) -> tuple[int, str]:
    """Non-constant genes of a (present-gene) set and why GSVA does not score it ("" = scored)."""
    up = sum(g in kept for g in sig.genes)
    down = sum(g in kept for g in sig.down)
    used = up + down
    if used < min_genes:
        return used, f"only {used} non-constant gene(s) (minimum {min_genes})"
    if used / in_set < min_coverage:
        return used, (f"non-constant coverage {used / in_set:.0%} below the minimum "
                      f"{min_coverage:.0%}")
    if sig.down and not (up and down):
        return used, "the up or the down part has no non-constant gene"
    return used, ""


def _gsva_qc(X: np.ndarray, counts: np.ndarray | None, genes: pd.Index,
             gene_sets: list[Signature], cov: pd.DataFrame, *, gsva_kernel: str,
             min_coverage: float, min_genes: int) -> tuple[dict, dict[str, tuple[int, str]]]:
    """What GSVA's constant-gene filter removed, and the set-size rules re-applied after it.

    Returns
    -------
    (dict, dict)
        The QC record (rule, kernel, input, genes dropped, the sets that lost genes or their
        GSVA score) and, per scored set, (non-constant genes used, reason it is not scored).
    """
    data, kernel, source = gsva_input(X, counts, gsva_kernel)
    keep = ~km.constant_genes(data)
    kept = set(genes[keep])
    in_set = dict(zip(cov["signature"], cov["genes_in_set"], strict=True))
    sizes, rows = {}, []
    for sig in gene_sets:
        used, reason = _gsva_size_reason(sig, kept, int(in_set[sig.name]),
                                         min_coverage=min_coverage, min_genes=min_genes)
        sizes[sig.name] = (used, reason)
        present = len(sig.genes) + len(sig.down)
        if used < present or reason:
            rows.append({"signature": sig.name, "genes_used": present,
                         "constant_genes_dropped": present - used, "genes_used_gsva": used,
                         "scored": not reason, "reason": reason})
    record = {"rule": GSVA_FILTER_RULE, "kernel": kernel, "input": source,
              "genes": int(len(genes)), "genes_kept": int(keep.sum()),
              "constant_genes_dropped": int((~keep).sum()),
              "dropped_genes": sorted(map(str, genes[~keep])), "signatures": rows}
    return record, sizes


def _rows(sig: Signature, method: str, score: np.ndarray, genes_used: int, genes_in_set: int,
          samples: np.ndarray, dispersion: np.ndarray | None = None,
          scaled: np.ndarray | None = None) -> pd.DataFrame:
    """One method's long score rows for one signature."""
    n = len(samples)
    return pd.DataFrame({
        "sample": samples, "signature": sig.name, "method": method, "score": score,
        "score_z": _standardise(score), "genes_used": genes_used, "genes_in_set": genes_in_set,
        "dispersion": np.full(n, np.nan) if dispersion is None else dispersion,
        "scaled_index": np.full(n, np.nan) if scaled is None else scaled,
    })


def score_cohort(adata, signatures: list[Signature], *, methods: list[str],
                 min_coverage: float = 0.5, min_genes: int = 3, alpha: float = 0.25,
                 gsva_kernel: str = "auto") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score every signature in one cohort (:func:`score_cohort_qc` without the QC record)."""
    scores, cov, _ = score_cohort_qc(adata, signatures, methods=methods,
                                     min_coverage=min_coverage, min_genes=min_genes,
                                     alpha=alpha, gsva_kernel=gsva_kernel)
    return scores, cov


def score_cohort_qc(
    adata,
    signatures: list[Signature],
    *,
    methods: list[str],
    min_coverage: float = 0.5,
    min_genes: int = 3,
    alpha: float = 0.25,
    gsva_kernel: str = "auto",
    shared: dict | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
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
        signatures. ``combined_z`` rows exist only for up/down sets (:func:`combined_z_reason`).
    min_coverage, min_genes
        Below either, a signature's scores are NA and the coverage table gives the reason. For
        GSVA both are applied again after constant genes are dropped (the QC record says why a
        set lost its GSVA score); ``genes_used`` of GSVA rows counts the non-constant genes.
    alpha
        ssGSEA weight.
    gsva_kernel
        ``auto`` (Poisson on raw counts when the cohort has them, else Gaussian), ``gaussian``
        or ``poisson``.
    shared
        Optional dict that receives ``gsva_density`` when GSVA ran (see :func:`score_matrix`).

    Returns
    -------
    (pandas.DataFrame, pandas.DataFrame, dict)
        Long scores (:data:`SCORE_COLUMNS`), the coverage table, and the QC record: ``gsva``
        (constant genes dropped; None without gsva) and ``combined_z`` (sets it was produced
        for and why the others were not; None without combined_z).
    """
    X = np.asarray(adata.X, dtype=float)
    genes = pd.Index(adata.var_names)
    complete = ~np.isnan(X).any(axis=0)
    X, genes = X[:, complete], genes[complete]
    counts = None
    if "counts" in getattr(adata, "layers", {}):
        counts = np.asarray(adata.layers["counts"], dtype=float)[:, complete]
    cohort = adata.uns["provenance"]["cohort"]
    cov = coverage(signatures, genes, min_coverage=min_coverage, min_genes=min_genes)
    cov.insert(0, "cohort", cohort)
    present = set(genes)
    ok = dict(zip(cov["signature"], cov["scored"], strict=True))
    gene_sets = [_present(s, present) for s in signatures if s.weights is None and ok[s.name]]
    results = score_matrix(X, genes, gene_sets, methods=methods, alpha=alpha, counts=counts,
                           gsva_kernel=gsva_kernel, shared=shared) if gene_sets else {}
    qc: dict = {"cohort": cohort, "gsva": None, "combined_z": None}
    gsva_sizes: dict[str, tuple[int, str]] = {}
    if "gsva" in methods:
        qc["gsva"], gsva_sizes = _gsva_qc(X, counts, genes, gene_sets, cov,
                                        gsva_kernel=gsva_kernel, min_coverage=min_coverage,
                                        min_genes=min_genes)
    set_sigs = {s.name: _present(s, present) for s in signatures if s.weights is None}
    if "combined_z" in methods:
        reasons = {name: combined_z_reason(sig) for name, sig in set_sigs.items()}
        qc["combined_z"] = {"rule": COMBINED_Z_RULE,
                            "signatures": [n for n, r in reasons.items() if not r],
                            "not_produced": {n: r for n, r in reasons.items() if r}}
    set_index = {s.name: j for j, s in enumerate(gene_sets)}
    samples = np.asarray(adata.obs_names, dtype=str)
    by_name = cov.set_index("signature")
    frames = []
    for method in methods:
        for sig in signatures:
            if (method in WEIGHT_METHODS) != (sig.weights is not None):
                continue
            if method == "combined_z" and combined_z_reason(set_sigs[sig.name]):
                continue
            row = by_name.loc[sig.name]
            used, in_set = int(row["genes_used"]), int(row["genes_in_set"])
            nan = np.full(len(samples), np.nan)
            if not row["scored"]:
                frames.append(_rows(sig, method, nan, used, in_set, samples))
            elif sig.weights is not None:
                w = _present(sig, present).weights
                score, scaled = km.mrnasi(X, np.fromiter(w.values(), float),
                                          columns=genes.get_indexer(list(w)))
                frames.append(_rows(sig, method, score, used, in_set, samples, scaled=scaled))
            else:
                values, disp = results[method]
                j = set_index[sig.name]
                score = values[:, j]
                if method == "gsva":
                    used, reason = gsva_sizes[sig.name]
                    score = nan if reason else score
                frames.append(_rows(sig, method, score, used, in_set, samples,
                                    dispersion=None if disp is None else disp[:, j]))
    if not frames:
        return pd.DataFrame(columns=SCORE_COLUMNS), cov, qc
    return pd.concat(frames, ignore_index=True)[SCORE_COLUMNS], cov, qc


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
