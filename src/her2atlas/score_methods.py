"""Signature scoring kernels. Each takes samples × genes and column-index sets; returns samples × sets.

References
----------
- zmean / combined z: Lee E et al., PLoS Comput Biol 2008 (combined z = Σz / √k).
- GSVA's constant-gene filter: GSVA 1.46 ``.filterFeatures`` (R/utils.R).
- singscore: Foroutan M et al., BMC Bioinformatics 2018.
- ssGSEA: Barbie DA et al., Nature 2009.
- GSVA: Hänzelmann S, Castelo R, Guinney J, BMC Bioinformatics 2013.
- mRNAsi: Malta TM et al., Cell 2018.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from scipy.stats import norm, rankdata

#: GSVA evaluates the Gaussian CDF through a 10,001-point table over [0, 10] SD, as the reference
#: implementation (GSVA's C code, mirrored by gseapy) does; scores match it exactly.
_GSVA_TABLE = norm.cdf(10.0 * np.arange(10001) / 10000)


def zscore_genes(X: np.ndarray) -> np.ndarray:
    """Z-score each gene (column) across samples (rows); constant genes become 0.

    Holds the whole z-matrix (and full-size temporaries); the scoring path uses
    :func:`gene_zstats` and per-set z-scores instead (same numbers).
    """
    mean = np.nanmean(X, axis=0)
    sd = np.nanstd(X, axis=0, ddof=1)
    sd[~np.isfinite(sd) | (sd == 0)] = np.inf
    return (X - mean) / sd


def gene_zstats(X: np.ndarray, columns: np.ndarray | None = None, *,
                block: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Per-gene mean and SD exactly as :func:`zscore_genes` uses them, ``block`` genes at a time.

    Parameters
    ----------
    X : numpy.ndarray
        Samples × genes.
    columns : numpy.ndarray, optional
        Gene (column) indices that need statistics (duplicates allowed); all genes by default.
    block : int
        Genes gathered at a time, which bounds the temporaries to samples × ``block``.

    Returns
    -------
    (mean, sd)
        Arrays over all genes in the dtype :func:`zscore_genes` would use; SD is ``inf`` where
        the gene is constant or undefined (its z-scores are 0), and both are NaN for genes not in
        ``columns``.
    """
    n, g = X.shape
    cols = np.arange(g) if columns is None else np.unique(np.asarray(columns, dtype=np.intp))
    dtype = np.nanmean(X[:1, :1], axis=0).dtype if n else np.float64
    mean = np.full(g, np.nan, dtype=dtype)
    sd = np.full(g, np.nan, dtype=dtype)
    for start in range(0, len(cols), block):
        c = cols[start:start + block]
        sub = X[:, c]
        mean[c] = np.nanmean(sub, axis=0)
        s = np.nanstd(sub, axis=0, ddof=1)
        s[~np.isfinite(s) | (s == 0)] = np.inf
        sd[c] = s
    return mean, sd


def _set_z(Z: np.ndarray, idx: np.ndarray,
           stats: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    """The z-scores of one set's genes: a slice of ``Z``, or formed from raw ``Z`` and ``stats``."""
    if stats is None:
        return Z[:, idx]
    mean, sd = stats
    return (Z[:, idx] - mean[idx]) / sd[idx]


def zmean(Z: np.ndarray, sets: list[np.ndarray], *,
          stats: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Mean of per-gene z-scores over each set.

    Parameters
    ----------
    Z : numpy.ndarray
        Samples × genes: z-scores from :func:`zscore_genes`, or the raw matrix when ``stats``
        is given.
    sets : list of numpy.ndarray
        Column indices of each set.
    stats : (mean, sd), optional
        From :func:`gene_zstats` on the raw matrix. Each set's z-scores are then formed from
        its own genes only (the same numbers, without a full z-matrix in memory).

    Returns
    -------
    numpy.ndarray
        Samples × sets.
    """
    return np.column_stack([np.nanmean(_set_z(Z, idx, stats), axis=1) for idx in sets])


def combined_z(Z: np.ndarray, sets: list[np.ndarray], *,
               stats: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Lee et al. (2008) combined z: Σ z / √k over each set (arguments as :func:`zmean`).

    Returns
    -------
    numpy.ndarray
        Samples × sets.
    """
    return np.column_stack([np.nansum(_set_z(Z, idx, stats), axis=1) / np.sqrt(len(idx))
                            for idx in sets])


def _rank_rows(X: np.ndarray, ties: str) -> np.ndarray:
    n = X.shape[1]
    order = np.argsort(X, axis=1)  # SIMD quicksort; tied values get equal ranks anyway
    ordered = np.take_along_axis(X, order, axis=1)
    new_run = np.ones(X.shape, bool)
    new_run[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    position = np.arange(n)
    if new_run.all():  # no ties: rank = position in sorted order
        values = np.broadcast_to((position + 1).astype(np.float32), X.shape)
    else:
        start = np.maximum.accumulate(np.where(new_run, position, 0), axis=1)
        if ties == "min":
            values = (start + 1).astype(np.float32)
        else:
            is_end = np.ones(X.shape, bool)
            is_end[:, :-1] = new_run[:, 1:]
            rev = np.maximum.accumulate(np.where(is_end[:, ::-1], position, 0), axis=1)[:, ::-1]
            values = ((start + (n - 1 - rev)) / 2 + 1).astype(np.float32)
    ranks = np.empty(X.shape, np.float32)
    np.put_along_axis(ranks, order, values, axis=1)
    return ranks


def ascending_ranks(X: np.ndarray, *, ties: str = "average", threads: int = 2,
                    chunk: int = 256) -> np.ndarray:
    """Rank genes within each sample (row), 1 = lowest, ties ``average`` or ``min``.

    float32 keeps memory low and is exact for ranks (and half-ranks) below 2^23. Rows are ranked
    in chunks on ``threads`` threads (NumPy's sort releases the GIL). Equal to
    ``scipy.stats.rankdata(X, axis=1, method=ties)`` and several times faster.
    """
    if ties not in ("average", "min"):
        raise ValueError(f"unknown ties rule {ties!r}")
    if X.shape[0] <= chunk or threads <= 1:
        return _rank_rows(np.asarray(X), ties)
    from concurrent.futures import ThreadPoolExecutor

    out = np.empty(X.shape, np.float32)

    def work(start: int) -> None:
        out[start:start + chunk] = _rank_rows(np.asarray(X[start:start + chunk]), ties)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(work, range(0, X.shape[0], chunk)))
    return out


def ssgsea(ranks: np.ndarray, sets: list[np.ndarray], *, alpha: float = 0.25) -> np.ndarray:
    """ssGSEA ES from average ascending ranks (closed form; see :mod:`her2atlas.scoring`)."""
    n_genes = ranks.shape[1]
    total = n_genes * (n_genes + 1) / 2.0
    out = np.empty((ranks.shape[0], len(sets)))
    for j, idx in enumerate(sets):
        r = ranks[:, idx].astype(float)
        rw = r**alpha
        out[:, j] = (rw * r).sum(axis=1) / rw.sum(axis=1) - (total - r.sum(axis=1)) / (
            n_genes - len(idx))
    return out


def singscore(min_ranks: np.ndarray, sets: list[np.ndarray], *,
              centre: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """singscore of up-sets from ranks with ties = 'min' (the reference's default).

    The mean rank of the set's genes is scaled between its smallest possible value
    ((k + 1) / 2) and its largest ((2G − k + 1) / 2), then centred by −0.5. Bounds use the number
    of genes present (k), so the score stays within [−0.5, 0.5].

    Returns
    -------
    (scores, dispersion)
        Dispersion is the median absolute deviation (× 1.4826, as R's ``mad``) of the set's ranks.
    """
    n_genes = min_ranks.shape[1]
    scores = np.empty((min_ranks.shape[0], len(sets)))
    dispersion = np.empty_like(scores)
    for j, idx in enumerate(sets):
        r = min_ranks[:, idx].astype(float)
        k = len(idx)
        low, high = (k + 1) / 2, (2 * n_genes - k + 1) / 2
        scores[:, j] = (r.mean(axis=1) - low) / (high - low) - (0.5 if centre else 0.0)
        med = np.median(r, axis=1, keepdims=True)
        dispersion[:, j] = 1.4826 * np.median(np.abs(r - med), axis=1)
    return scores, dispersion


#: Table index from which the tabulated CDF is exactly 1.0 in double precision (v ≥ 8.293 SD):
#: pairs at least this far apart add exactly 1 to the higher sample and 0 to the lower one.
_GSVA_ONE_FROM = float(np.argmax(_GSVA_TABLE == 1.0))

#: A table position within this distance of an integer (or of the cut-off) is re-derived with
#: the reference's own arithmetic. The fast position d·(1000/h) differs from the reference's
#: ((d/h)/10)·10000 by a few ulps (< 1e-11 at 10,000), so every other pair reads the same entry.
_GSVA_NEAR = 1e-7


#: Rows of a tile (see :func:`_gaussian_gene`) and lower samples handled per block (the table
#: positions of one block, 8 × 512 int32, stay in L1 cache).
_TILE = 8
_BLOCK = 512

_NUMBA = {"cache": True, "error_model": "numpy", "boundscheck": False}


@numba.njit(**_NUMBA)
def _table_positions(xs: np.ndarray, k0: int, k1: int, j0: int, rows: int, scale: float,
                     pos: np.ndarray) -> int:  # pragma: no cover - compiled
    """pos[r, q] = int((xs[j0 + r] − xs[k0 + q]) · scale), for q < k1 − k0; vectorised (SIMD).

    Returns how many positions lie within :data:`_GSVA_NEAR` of an integer: only those may read
    a different entry from the reference's ((d/h)/10)·10000 (see :func:`_gaussian_fix`).
    Positions are capped at 10,000 (the table's last entry, 1.0; NaN too) so that no input can
    index outside the table.
    """
    near = 0
    lower = xs[k0:k1]
    m = k1 - k0
    for r in range(rows):
        xj = xs[j0 + r]
        out = pos[r]
        count = 0
        for q in range(m):
            t = (xj - lower[q]) * scale
            t = t if t < 10000.0 else 10000.0  # NaN too
            i = np.int32(t)
            f = t - i
            count += (f < _GSVA_NEAR) | (f > 1.0 - _GSVA_NEAR)
            out[q] = i
        near += count
    return near


@numba.njit(**_NUMBA)
def _gaussian_tile(m: int, pos: np.ndarray, table: np.ndarray, lower: np.ndarray,
                   sums: np.ndarray) -> None:  # pragma: no cover - compiled
    """8 rows × m lower samples: row r gains Σ_q table[pos[r, q]], lower sample q gains
    Σ_r (1 − table[pos[r, q]]) = 8 − Σ_r table[pos[r, q]] (Φ(−v) = 1 − Φ(v)). One pass over q
    serves all 8 rows, so ``lower`` is read and written once per 8 pairs; the table reads are
    scalar loads (LLVM does not emit vector gathers for AMD Zen, where they are slow)."""
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    p0, p1, p2, p3 = pos[0], pos[1], pos[2], pos[3]
    p4, p5, p6, p7 = pos[4], pos[5], pos[6], pos[7]
    for q in range(m):
        c0, c1, c2, c3 = table[p0[q]], table[p1[q]], table[p2[q]], table[p3[q]]
        c4, c5, c6, c7 = table[p4[q]], table[p5[q]], table[p6[q]], table[p7[q]]
        s0, s1, s2, s3 = s0 + c0, s1 + c1, s2 + c2, s3 + c3
        s4, s5, s6, s7 = s4 + c4, s5 + c5, s6 + c6, s7 + c7
        lower[q] += 8.0 - (((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7)))
    sums[0] += s0
    sums[1] += s1
    sums[2] += s2
    sums[3] += s3
    sums[4] += s4
    sums[5] += s5
    sums[6] += s6
    sums[7] += s7


@numba.njit(**_NUMBA)
def _gaussian_row(m: int, pos: np.ndarray, table: np.ndarray,
                  lower: np.ndarray) -> float:  # pragma: no cover - compiled
    """One row × m lower samples (as :func:`_gaussian_tile`); returns the row's sum."""
    s0 = s1 = s2 = s3 = 0.0  # four chains: the additions overlap
    q = 0
    while q + 4 <= m:
        c0, c1, c2, c3 = table[pos[q]], table[pos[q + 1]], table[pos[q + 2]], table[pos[q + 3]]
        s0, s1, s2, s3 = s0 + c0, s1 + c1, s2 + c2, s3 + c3
        lower[q] += 1.0 - c0
        lower[q + 1] += 1.0 - c1
        lower[q + 2] += 1.0 - c2
        lower[q + 3] += 1.0 - c3
        q += 4
    while q < m:
        c0 = table[pos[q]]
        s0 += c0
        lower[q] += 1.0 - c0
        q += 1
    return (s0 + s1) + (s2 + s3)


@numba.njit(**_NUMBA)
def _gaussian_fix(xs: np.ndarray, k0: int, k1: int, j0: int, rows: int, scale: float, h: float,
                  table: np.ndarray, acc: np.ndarray,
                  sums: np.ndarray) -> None:  # pragma: no cover - compiled
    """Re-read, with the reference's own arithmetic, every pair of rows j0.. × samples k0..k1
    whose fast position d·scale lies within :data:`_GSVA_NEAR` of an integer, and correct the
    row sum and lower sample by the difference of the two table entries (0 almost always).

    The reference computes v = d / h and reads ``table[int(|v| / 10 * 10000)]`` (1 above
    v = 10); d·(1000/h) differs from that position by a few ulps (< 1e-11 at 10,000), so only
    pairs this close to an integer can read another entry.
    """
    for r in range(rows):
        xj = xs[j0 + r]
        for k in range(k0, k1):
            d = xj - xs[k]
            t = d * scale
            t = t if t < 10000.0 else 10000.0
            i = np.int32(t)
            f = t - i
            if f < _GSVA_NEAR or f > 1.0 - _GSVA_NEAR:
                v = d / h
                ref = 10000 if v > 10.0 else int(abs(v) / 10.0 * 10000)
                delta = table[ref] - table[i]
                sums[r] += delta
                acc[k] -= delta


@numba.njit(**_NUMBA)
def _gaussian_pairs(xs: np.ndarray, k0: int, k1: int, j0: int, rows: int, scale: float,
                    h: float, table: np.ndarray, acc: np.ndarray, sums: np.ndarray,
                    pos: np.ndarray) -> None:  # pragma: no cover - compiled
    """Rows j0 .. j0 + rows (1 or :data:`_TILE`) × lower samples k0 .. k1 (all below j0), in
    blocks of :data:`_BLOCK`: row sums added to ``sums``, 1 − Φ to ``acc`` of the lower ones."""
    for b0 in range(k0, k1, _BLOCK):
        b1 = min(b0 + _BLOCK, k1)
        near = _table_positions(xs, b0, b1, j0, rows, scale, pos)
        if rows == _TILE:
            _gaussian_tile(b1 - b0, pos, table, acc[b0:b1], sums)
        else:
            sums[0] += _gaussian_row(b1 - b0, pos[0], table, acc[b0:b1])
        if near:
            _gaussian_fix(xs, b0, b1, j0, rows, scale, h, table, acc, sums)


@numba.njit(**_NUMBA)
def _gaussian_gene(xs: np.ndarray, h: float, table: np.ndarray,
                   acc: np.ndarray) -> None:  # pragma: no cover - compiled
    """acc[j] = Σ_k table-Φ((xs[j] − xs[k]) / h) for one gene's sorted values ``xs``.

    Each pair is visited once (the higher sample gets Φ(v), the lower 1 − Φ(v), bit for bit
    as the reference's x_low − x_high = −(x_high − x_low)); pairs at least
    :data:`_GSVA_ONE_FROM` table steps apart add exactly 1 to the higher sample and 0 to the
    lower one, so they are counted, not read. Rows are taken 8 at a time: the rectangle of
    lower samples inside all 8 windows goes through :func:`_gaussian_tile`, the rest row by
    row.
    """
    n = len(xs)
    scale = 1000.0 / h
    limit = _GSVA_ONE_FROM + _GSVA_NEAR
    los = np.empty(_TILE, np.int64)
    sums = np.empty(_TILE)
    pos = np.empty((_TILE, _BLOCK), np.int32)
    lo = 0  # samples below lo are >= 8.293 SD under the current row: exactly 1
    for j0 in range(0, n, _TILE):
        j1 = min(j0 + _TILE, n)
        for j in range(j0, j1):
            while lo < j and (xs[j] - xs[lo]) * scale > limit:
                lo += 1
            los[j - j0] = lo
        # rectangle: lower samples [rect_lo, j0) are in the window of every row of a full tile
        rect_lo = min(los[j1 - 1 - j0], j0) if j1 - j0 == _TILE else j0
        sums[:] = 0.0
        if rect_lo < j0:
            _gaussian_pairs(xs, rect_lo, j0, j0, _TILE, scale, h, table, acc, sums, pos)
        for j in range(j0, j1):  # the rest of each row's window, the exact ones, self term 0.5
            one = sums[j - j0:j - j0 + 1]
            lo_j = los[j - j0]
            _gaussian_pairs(xs, lo_j, rect_lo, j, 1, scale, h, table, acc, one, pos)
            _gaussian_pairs(xs, max(j0, lo_j), j, j, 1, scale, h, table, acc, one, pos)
            acc[j] += (float(lo_j) + table[0]) + one[0]


@numba.njit(parallel=True, cache=True)
def _gaussian_cdf_sums(X: np.ndarray, bw: np.ndarray, table: np.ndarray) -> np.ndarray:  # pragma: no cover
    """Σ_k table-Φ((x_j − x_k) / h) / n for every sample j and gene (column), as GSVA's C code.

    Genes run in parallel (numba threads); each gene's column is copied into a contiguous
    buffer and sorted (:func:`_gaussian_gene`). Terms are the reference's own table entries;
    only the order of summation differs (≤ 1e-12 on the result).
    """
    n, g = X.shape
    out = np.empty((n, g))
    for i in numba.prange(g):
        col = np.empty(n)
        for j in range(n):
            col[j] = X[j, i]
        order = np.argsort(col, kind="mergesort")
        xs = col[order]
        acc = np.zeros(n)  # in sorted order
        _gaussian_gene(xs, bw[i], table, acc)
        for j in range(n):
            out[order[j], i] = acc[j] / n
    return out


#: The Poisson CDF is evaluated from the first count whose log pmf is at least this (the mass
#: below is < 1e-20) to λ + 10√λ + 40 (above it 1 − CDF < 1e-20 by the Chernoff bound
#: exp(−a² / (2(λ + a/3))) at a = 10√λ + 40), outside which it is 0 or 1 to double precision.
_POISSON_LOG_FLOOR = -50.0


@numba.njit(**_NUMBA)
def _poisson_first_count(lam: float, lo: float) -> float:  # pragma: no cover - compiled
    """The smallest count ≥ ``lo`` (and ≤ ⌊λ⌋) whose log pmf under Poisson(λ) is at least
    :data:`_POISSON_LOG_FLOOR`, by bisection (the pmf rises up to the mode)."""
    log_lam = np.log(lam)
    if -lam + lo * log_lam - math.lgamma(lo + 1.0) >= _POISSON_LOG_FLOOR:
        return lo
    a, b = lo, np.floor(lam)
    while b - a > 1.0:
        mid = np.floor((a + b) / 2.0)
        if -lam + mid * log_lam - math.lgamma(mid + 1.0) < _POISSON_LOG_FLOOR:
            a = mid
        else:
            b = mid
    return b


@numba.njit(**_NUMBA)
def _log_dpois(x: float, lam: float) -> float:  # pragma: no cover - compiled
    """log P(Poisson(λ) = x) for an integer x ≥ 0, by Loader's saddle-point form (as R's
    ``dpois``): −stirlerr(x) − bd0(x, λ) − ½·log(2πx) avoids the cancellation of
    −λ + x·log λ − log x!, whose terms reach λ·log λ (1e-10 relative error at λ = 1e5)."""
    if x < 16.0:  # the terms are small: the direct form is exact to ~1e-14
        return -lam + x * np.log(lam) - math.lgamma(x + 1.0)
    nn = x * x
    # Stirling's series for log x! − (x + ½)·log x + x − ½·log(2π) (R's stirlerr, x > 15)
    stirl = (1 / 12 - (1 / 360 - (1 / 1260 - (1 / 1680 - 1 / 1188 / nn) / nn) / nn) / nn) / x
    if abs(x - lam) < 0.1 * (x + lam):  # bd0 = x·log(x/λ) + λ − x by its series
        v = (x - lam) / (x + lam)
        bd0 = (x - lam) * v
        ej = 2.0 * x * v
        v2 = v * v
        for j in range(1, 1000):
            ej *= v2
            nxt = bd0 + ej / (2 * j + 1)
            if nxt == bd0:
                break
            bd0 = nxt
    else:
        bd0 = x * np.log(x / lam) + lam - x
    return -stirl - bd0 - 0.5 * np.log(2.0 * np.pi * x)


@numba.njit(**_NUMBA)
def _poisson_count(values: np.ndarray, lam: float, weight: float, acc: np.ndarray,
                   ones: np.ndarray) -> None:  # pragma: no cover - compiled
    """Add ``weight`` · P(Poisson(λ) ≤ values[j]) to acc[j] for the sorted ``values`` inside
    the window; from the first count at or above λ + 10√λ + 40 on, ``weight`` goes to the
    difference array ``ones`` (CDF 1). Probabilities by p(i+1) = p(i)·λ/(i+1)."""
    width = 10.0 * np.sqrt(lam) + 40.0
    lo = _poisson_first_count(lam, max(0.0, np.floor(lam - width)))
    hi = lam + width
    p = np.exp(_log_dpois(lo, lam))
    cdf = 0.0
    current = lo - 1.0  # the CDF covers counts <= current
    for jj in range(np.searchsorted(values, lo), len(values)):
        target = values[jj]
        if target >= hi:
            ones[jj] += weight
            return
        while current < target:
            current += 1.0
            cdf += p
            p *= lam / (current + 1.0)
        acc[jj] += weight * min(cdf, 1.0)


@numba.njit(**_NUMBA)
def _distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct values of sorted ``values``, their multiplicities, and each value's run start."""
    n = len(values)
    start = np.empty(n + 1, np.int64)
    u = 0
    for j in range(n):
        if j == 0 or values[j] != values[j - 1]:
            start[u] = j
            u += 1
    start[u] = n
    uniq = np.empty(u)
    mult = np.empty(u)
    for q in range(u):
        uniq[q] = values[start[q]]
        mult[q] = float(start[q + 1] - start[q])
    return uniq, mult, start[:u + 1]


@numba.njit(parallel=True, cache=True)
def _poisson_cdf_sums(X: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """Σ_k P(Poisson(x_k + 0.5) ≤ x_j) / n for every sample j and gene (column), x = ⌊max(X, 0)⌋.

    Each gene's counts are gathered into a contiguous buffer (floored there: no copy of the
    matrix) and sorted. Samples sharing a count share both their Poisson CDF and the value it
    is read at, so the CDF of each distinct count is evaluated once (:func:`_poisson_count`),
    read at each distinct count inside its window, and weighted by its multiplicity. The pair
    symmetry of the Gaussian kernel does not hold here (the CDF at x_j of Poisson(x_k) is not
    1 minus that at x_k of Poisson(x_j)). Equal to the per-pair CDF to ~1e-12.
    """
    n, g = X.shape
    out = np.empty((n, g))
    for i in numba.prange(g):
        col = np.empty(n)
        for j in range(n):
            v = X[j, i]
            col[j] = 0.0 if v < 0 else np.floor(v)  # NaN stays NaN, as floor(clip(x, 0))
        order = np.argsort(col, kind="mergesort")
        uniq, mult, start = _distinct(col[order])
        u = len(uniq)
        acc = np.zeros(u)  # per distinct count
        ones = np.zeros(u + 1)  # difference array: CDF 1 from a distinct count on
        for q in range(u):
            _poisson_count(uniq, uniq[q] + 0.5, mult[q], acc, ones)
        running = 0.0
        for q in range(u):
            running += ones[q]
            for jj in range(start[q], start[q + 1]):
                out[order[jj], i] = (acc[q] + running) / n
    return out


def gsva_density(X: np.ndarray, *, kernel: str = "gaussian", chunk: int = 256) -> np.ndarray:
    """GSVA's per-gene kernel CDF estimate, as log-odds (samples × genes).

    ``gaussian`` (log-scale data): bandwidth = SD(gene) / 4, CDF from the reference table
    (O(genes × N²) sample pairs, each visited once, compiled with numba on numba's threads);
    ``poisson`` (counts): CDF of Poisson(x_k + 0.5) at x_j, once per distinct count. The
    Gaussian sums equal the reference's per-pair loop up to the order of summation (≤ 1e-11 on
    the log-odds at N = 2,000); the Poisson ones equal scipy's CDF to ~1e-13 up to 5e4 reads.
    Constant genes are not removed here: R GSVA removes them first
    (:func:`constant_genes`), which :mod:`her2atlas.scoring` does before calling this.

    Parameters
    ----------
    X : numpy.ndarray
        Samples × genes (log-scale for ``gaussian``, counts for ``poisson``).
    kernel : {"gaussian", "poisson"}
        The kernel CDF.
    chunk : int
        Samples converted to log-odds at a time (bounds the temporaries).

    Returns
    -------
    numpy.ndarray
        float64 samples × genes log-odds of the kernel CDF, the only matrix of that size held
        besides the input (columns are gathered, floored and sorted one gene per thread).
    """
    if kernel == "gaussian":
        bw = X.std(axis=0, ddof=1) / 4.0
        bw[bw == 0] = np.inf
        out = _gaussian_cdf_sums(np.asarray(X), bw, _GSVA_TABLE)  # float32 read as is
    elif kernel == "poisson":
        out = _poisson_cdf_sums(np.asarray(X))
    else:
        raise ValueError(f"unknown GSVA kernel {kernel!r}")
    # log(p / (1 - p)) in place, a block of samples at a time: no full-size temporaries
    with np.errstate(divide="ignore"):
        for start in range(0, out.shape[0], chunk):
            p = out[start:start + chunk]
            np.divide(p, 1.0 - p, out=p)
        return np.log(out, out=out)


#: Genes whose SD across samples is below this count as constant (GSVA 1.46 ``.filterFeatures``
#: sets ``rowSds < 1e-10`` to 0 and drops SD 0 or NA).
CONSTANT_SD = 1e-10


def constant_genes(X: np.ndarray) -> np.ndarray:
    """Mask of genes (columns) that R GSVA discards before estimating anything.

    GSVA 1.46 (``.filterFeatures``, called by ``gsva()`` before gene sets are mapped to the
    remaining features and filtered by size) drops every gene whose SD across samples is below
    :data:`CONSTANT_SD` or undefined, on the matrix the kernel sees (raw counts for the Poisson
    kernel). Later versions (``.filterGenes``) test ``max == min``, the same genes up to rounding.
    """
    with np.errstate(invalid="ignore"):
        sd = np.std(X, axis=0, ddof=1) if X.shape[0] > 1 else np.full(X.shape[1], np.nan)
    return ~(np.isfinite(sd) & (sd >= CONSTANT_SD))


def restrict_sets(sets: list[np.ndarray], keep: np.ndarray) -> list[np.ndarray]:
    """Re-index column-index sets onto the columns where ``keep`` is True (others dropped)."""
    new_index = np.cumsum(keep) - 1
    return [new_index[idx[keep[idx]]] for idx in sets]


def gsva(density: np.ndarray, sets: list[np.ndarray], *, max_diff: bool = True,
         block: int = 512) -> np.ndarray:
    """GSVA enrichment (tau = 1) from :func:`gsva_density`.

    Genes are ordered by density within each sample; the rank score at position p (1 = top) is
    |G − p + 1 − G/2|. The running sum steps up by the hit's rank score / Σ over the set and down
    by 1 / (G − k); the score is max + min of the walk (``max_diff``) or the larger excursion.
    Maxima sit just after a hit and minima just before one, so only set positions are visited.
    ``density`` should hold only the genes GSVA keeps (see :func:`constant_genes`); a set left
    without genes scores NaN.

    Parameters
    ----------
    density : numpy.ndarray
        Samples × genes log-odds from :func:`gsva_density`.
    sets : list of numpy.ndarray
        Column indices of each set.
    max_diff : bool
        Score as max + min of the walk (GSVA's ``mx.diff = TRUE``) or the larger excursion.
    block : int
        Samples ordered at a time; the working arrays are ``block`` × genes (each sample's
        score depends on its own row only, so the result does not depend on it).

    Returns
    -------
    numpy.ndarray
        Samples × sets.
    """
    n = density.shape[0]
    out = np.empty((n, len(sets)))
    for start in range(0, n, block):
        out[start:start + block] = _gsva_rows(density[start:start + block], sets, max_diff)
    return out


def _gsva_rows(density: np.ndarray, sets: list[np.ndarray], max_diff: bool) -> np.ndarray:
    """:func:`gsva` on a block of samples."""
    n, g = density.shape
    order = np.argsort(-density, axis=1, kind="stable")
    position = np.empty_like(order)
    rows = np.arange(n)[:, None]
    position[rows, order] = np.arange(1, g + 1)[None, :]
    del order
    rank_score = np.abs(g - position + 1 - g / 2.0)
    out = np.empty((n, len(sets)))
    for j, idx in enumerate(sets):
        k = len(idx)
        if k == 0:
            out[:, j] = np.nan
            continue
        pos = position[:, idx]
        srt = np.argsort(pos, axis=1, kind="stable")
        pos = np.take_along_axis(pos, srt, axis=1)
        weight = np.take_along_axis(rank_score[:, idx], srt, axis=1)
        cum = np.cumsum(weight, axis=1) / weight.sum(axis=1, keepdims=True)
        hits_before = np.arange(1, k + 1)[None, :]
        after_hit = cum - (pos - hits_before) / (g - k)           # walk right after each hit
        before_hit = cum - weight / weight.sum(axis=1, keepdims=True) - (pos - hits_before) / (g - k)
        top = np.maximum(after_hit.max(axis=1), 0.0)
        bottom = np.minimum(before_hit.min(axis=1), 0.0)
        out[:, j] = top + bottom if max_diff else np.where(top > -bottom, top, bottom)
    return out


def mrnasi(X: np.ndarray, weights: np.ndarray, *, columns: np.ndarray | None = None,
           block: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Malta et al. stemness index: Spearman ρ of each sample with the weight vector.

    Parameters
    ----------
    X : numpy.ndarray
        Samples × genes.
    weights : numpy.ndarray
        One weight per gene of ``X`` (or per entry of ``columns``).
    columns : numpy.ndarray, optional
        Column indices of ``X`` that the weights belong to; all columns by default.
    block : int
        Samples ranked at a time (each sample's ρ depends on its own row only), which bounds
        the temporaries to ``block`` × genes instead of three matrices of the input's size.

    Returns
    -------
    (rho, index)
        The raw correlation (comparable across cohorts) and the cohort min–max scaled 0–1 index
        (as ``TCGAanalyze_Stemness`` reports it).
    """
    rw = rankdata(weights)
    rw = rw - rw.mean()
    norm_w = np.sqrt((rw**2).sum())
    rho = np.empty(X.shape[0])
    for start in range(0, X.shape[0], block):
        rows = X[start:start + block]
        rx = rankdata(rows if columns is None else rows[:, columns], axis=1)
        rx -= rx.mean(axis=1, keepdims=True)
        rho[start:start + block] = (rx @ rw) / (np.sqrt((rx**2).sum(axis=1)) * norm_w)
    span = rho.max() - rho.min()
    index = (rho - rho.min()) / span if span > 0 else np.zeros_like(rho)
    return rho, index
