"""Random-signature null (Venet, Dumont & Detours, PLoS Comput Biol 2011).

Is a signature better than a random one? For each signature, cohort, analysed subgroup, endpoint
and method, the association statistic of the real signature is compared with that of
``n_random`` random gene sets of the same size whose genes are drawn, one for each real gene,
from the same bin of mean expression (``bins`` quantile bins over the cohort's genes). Random sets
are drawn once per signature (seeded from the config seed, the cohort and the signature) and
scored with every method, so methods are compared on the same sets.

Statistics (both invariant to rescaling the score):

* pCR: AUC − 0.5 of the score for pCR vs residual disease;
* survival: the Cox partial-likelihood score-test z of the score (Breslow ties), equivalent to
  the Wald z of the per-SD Cox model at large n.

The empirical p is ``(1 + #{|random| ≥ |observed|}) / (n_random + 1)``.

``combined_z`` follows the scores: it is tested only for up/down signatures whose up and down
parts have different numbers of genes present (:func:`her2atlas.scoring.combined_z_reason`);
elsewhere it is √k · zmean and would repeat zmean's null.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from . import score_methods as km
from .association import subgroups
from .clinical import as_float_array
from .scoring import combined_z_reason
from .signatures import Signature

NULL_METHODS = ("zmean", "combined_z", "singscore", "ssgsea")
COLUMNS = ["cohort", "subgroup", "signature", "method", "endpoint", "statistic", "n", "events",
           "observed", "null_mean", "null_sd", "n_random", "p_empirical", "genes_used"]


def auc_columns(S: np.ndarray, y: np.ndarray) -> np.ndarray:
    """AUC of every column of ``S`` (n × B) for binary ``y`` (ties count one half)."""
    ranks = rankdata(S, axis=0)
    n1 = y.sum()
    n0 = len(y) - n1
    return (ranks[y == 1].sum(axis=0) - n1 * (n1 + 1) / 2) / (n1 * n0)


def cox_score_z(S: np.ndarray, time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """Cox score-test z at β = 0 for every column of ``S`` (Breslow ties)."""
    order = np.argsort(-time, kind="stable")
    S, time, event = S[order], time[order], event[order]
    # risk set of a time includes everyone with time >= it: use the last row of each tie block
    _, first = np.unique(-time, return_index=True)
    starts = np.sort(first)
    ends = np.append(starts[1:], len(time)) - 1
    block_end = np.repeat(ends, np.diff(np.append(starts, len(time))))
    s0 = (np.arange(len(time)) + 1)[block_end][:, None].astype(float)
    s1 = np.cumsum(S, axis=0)[block_end]
    s2 = np.cumsum(S**2, axis=0)[block_end]
    d = event == 1
    mean = s1[d] / s0[d]
    u = (S[d] - mean).sum(axis=0)
    v = (s2[d] / s0[d] - mean**2).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(v > 0, u / np.sqrt(v), np.nan)


def expression_bins(X: np.ndarray, bins: int) -> np.ndarray:
    """Quantile bin (0..bins-1) of each gene's mean expression."""
    mean = X.mean(axis=0)
    edges = np.quantile(mean, np.linspace(0, 1, bins + 1)[1:-1])
    return np.searchsorted(edges, mean, side="right")


def draw_matched(members: np.ndarray, gene_bin: np.ndarray, n_random: int,
                 rng: np.random.Generator) -> np.ndarray:
    """Random sets (n_random × k): each real gene replaced by a random gene of its bin.

    Genes are drawn without replacement within a set; a bin smaller than the number of real
    genes it must supply borrows from the neighbouring bins.
    """
    k = len(members)
    out = np.empty((n_random, k), dtype=np.int64)
    needed = pd.Series(gene_bin[members]).value_counts()
    pools = {}
    for b, count in needed.items():
        pool = np.flatnonzero(gene_bin == b)
        width = 1
        while len(pool) < count * 2 and width <= gene_bin.max():
            pool = np.flatnonzero(np.abs(gene_bin - b) <= width)
            width += 1
        pools[b] = pool
    col = 0
    for b, count in needed.items():
        pool = pools[b]
        keys = rng.random((n_random, len(pool)))
        pick = np.argpartition(keys, count - 1, axis=1)[:, :count]
        out[:, col:col + count] = pool[pick]
        col += count
    return out


def _scores(method: str, prep: dict, up: np.ndarray, down: np.ndarray | None,
            alpha: float) -> np.ndarray:
    """Scores (n × B) of random sets given as index arrays (B × k_up, B × k_down)."""
    def one(idx):
        if method in ("zmean", "combined_z"):
            vals = prep["z"][:, idx].mean(axis=2)
            return vals * np.sqrt(idx.shape[1]) if method == "combined_z" else vals
        if method == "singscore":
            g = prep["min_ranks"].shape[1]
            k = idx.shape[1]
            low, high = (k + 1) / 2, (2 * g - k + 1) / 2
            return (prep["min_ranks"][:, idx].astype(float).mean(axis=2) - low) / (high - low) - 0.5
        if method == "ssgsea":
            g = prep["avg_ranks"].shape[1]
            r = prep["avg_ranks"][:, idx].astype(float)
            rw = r**alpha
            total = g * (g + 1) / 2.0
            return (rw * r).sum(axis=2) / rw.sum(axis=2) - (total - r.sum(axis=2)) / (g - idx.shape[1])
        raise ValueError(method)
    score = one(up)
    if down is not None and down.shape[1]:
        score = score - one(down)
    return score


def random_signature_null(
    adata,
    signatures: list[Signature],
    *,
    cohort: str,
    design: str,
    endpoints: dict,
    methods: list[str],
    n_random: int = 1000,
    seed: int = 0,
    bins: int = 20,
    min_events: int = 5,
    alpha: float = 0.25,
    chunk: int = 250,
) -> pd.DataFrame:
    """Empirical p-values of each signature's association against matched random signatures.

    Parameters
    ----------
    adata
        The cohort (samples × genes, log2).
    signatures
        Gene-set signatures (weight signatures are skipped).
    cohort, design, endpoints
        As in :func:`her2atlas.association.associate_cohort`; the null is computed for the
        pooled (primary) subgroups.
    methods
        Methods to test; those outside :data:`NULL_METHODS` are skipped.
    n_random, seed, bins
        Number of random sets, base seed, and mean-expression bins.
    min_events
        Endpoints with fewer events (or pCR non-events) are skipped.
    alpha
        ssGSEA weight.
    chunk
        Random sets scored at a time (bounds memory).

    Returns
    -------
    pandas.DataFrame
        One row per subgroup × signature × method × endpoint (:data:`COLUMNS`).
    """
    X = np.asarray(adata.X, dtype=float)
    complete = ~np.isnan(X).any(axis=0)
    X = X[:, complete]
    genes = pd.Index(adata.var_names)[complete]
    methods = [m for m in methods if m in NULL_METHODS]
    obs = adata.obs
    rows = []
    gene_bin = expression_bins(X, bins)
    present = set(genes)
    prep = None
    for label, _question, mask, pooled in subgroups(obs, design):
        if not pooled:
            continue
        mask = np.asarray(mask, bool)
        tests = []
        if endpoints.get("response") == "pcr" and "pcr" in obs:
            y = as_float_array(obs["pcr"])
            m = mask & np.isfinite(y)
            yy = y[m].astype(int)
            if min(yy.sum(), len(yy) - yy.sum()) >= min_events:
                tests.append(("pcr", "AUC - 0.5", m, lambda S, yy=yy: auc_columns(S, yy) - 0.5,
                              int(yy.sum())))
        for endpoint in endpoints.get("survival", []) or []:
            t = as_float_array(obs[f"{endpoint}_time"])
            e = as_float_array(obs[f"{endpoint}_event"])
            m = mask & np.isfinite(t) & np.isfinite(e)
            if e[m].sum() >= min_events:
                tm, em = t[m], e[m].astype(int)
                tests.append((endpoint, "Cox score z", m,
                              lambda S, tm=tm, em=em: cox_score_z(S, tm, em), int(em.sum())))
        if not tests:
            continue
        if prep is None:  # transforms over the whole cohort, as the real scores are
            prep = {"z": km.zscore_genes(X), "avg_ranks": km.ascending_ranks(X),
                    "min_ranks": km.ascending_ranks(X, ties="min")}
        for sig in signatures:
            if sig.weights is not None:
                continue
            found = Signature(sig.name, [g for g in sig.genes if g in present],
                              down=[g for g in sig.down if g in present])
            up = genes.get_indexer(found.genes)
            down = genes.get_indexer(found.down)
            if len(up) < 2:
                continue
            sig_methods = [m for m in methods
                           if m != "combined_z" or not combined_z_reason(found)]
            rng = np.random.default_rng(
                [seed, zlib.crc32(cohort.encode()), zlib.crc32(sig.name.encode())])
            rand_up = draw_matched(up, gene_bin, n_random, rng)
            rand_down = draw_matched(down, gene_bin, n_random, rng) if len(down) else None
            # transforms were computed over the whole cohort; only analysed rows are scored
            analysed = np.zeros(len(obs), bool)
            for _, _, m, _, _ in tests:
                analysed |= m
            sub = {key: value[analysed] for key, value in prep.items()}
            for method in sig_methods:
                real = _scores(method, sub, up[None, :], down[None, :] if len(down) else None,
                               alpha)
                rand = np.concatenate([
                    _scores(method, sub, rand_up[i:i + chunk],
                            None if rand_down is None else rand_down[i:i + chunk], alpha)
                    for i in range(0, n_random, chunk)], axis=1)
                for endpoint, statistic, m_all, stat, events in tests:
                    m = m_all[analysed]
                    observed = float(stat(real[m])[0])
                    null = stat(rand[m])
                    null = null[np.isfinite(null)]
                    p = (1 + np.sum(np.abs(null) >= abs(observed) - 1e-12)) / (len(null) + 1)
                    rows.append({
                        "cohort": cohort, "subgroup": label, "signature": sig.name,
                        "method": method, "endpoint": endpoint, "statistic": statistic,
                        "n": int(m_all.sum()), "events": events, "observed": observed,
                        "null_mean": float(null.mean()), "null_sd": float(null.std(ddof=1)),
                        "n_random": int(len(null)), "p_empirical": float(p),
                        "genes_used": int(len(up) + len(down))})
    return pd.DataFrame(rows, columns=COLUMNS)
