"""One-covariate logistic and Cox fits for many genes at once (the per-gene models' fast path).

Each function fits ``outcome ~ x_g`` for every column g of a genes × samples matrix that shares
one set of analysed samples, by the same Newton–Raphson iterations as
:func:`her2atlas.stats.logistic_fit` and :func:`her2atlas.stats.cox_fit` (same start, step,
step halving, tolerance, iteration cap and divergence rule), run side by side: each gene stops
when its own step is below the tolerance, so its estimate is the one the single-gene fit
reaches. Genes whose fit would fail or need Firth are flagged ``ok = False``; the caller fits
those one by one with the single-gene code, which decides and words the fallback.
"""

from __future__ import annotations

import numba
import numpy as np

from . import stats
from .score_methods import _NUMBA

BLOCK = 32
"""Genes fitted together: small enough that the samples × genes work arrays stay in cache
(32 was the fastest of 16–512 for 3,273 samples)."""


def zscore_rows(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise z (ddof = 1) as :func:`her2atlas.association._zscore`; (z, sd > 0)."""
    X = np.ascontiguousarray(X, dtype=float)  # row sums as the 1-D ones (see _rowsum)
    mean = X.mean(axis=1, keepdims=True)
    sd = X.std(axis=1, ddof=1, keepdims=True) if X.shape[1] > 1 else np.zeros((len(X), 1))
    ok = sd[:, 0] > 0
    z = np.where(ok[:, None], (X - mean) / np.where(sd > 0, sd, 1.0), 0.0)
    return z, ok


def logistic_many(Z: np.ndarray, y: np.ndarray, *, max_iter: int = 100,
                  tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ML logistic ``y ~ 1 + z_g`` for every row g of ``Z`` (genes × samples).

    Returns
    -------
    (beta, se, ok)
        genes × 2 coefficients and standard errors (intercept, slope); ``ok`` False where
        :func:`her2atlas.stats.logistic_fit` would not report a converged fit.
    """
    G = len(Z)
    y = np.asarray(y, float)
    beta = np.zeros((G, 2))
    active = np.ones(G, bool)
    converged = np.zeros(G, bool)
    singular = np.zeros(G, bool)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if not len(idx):
            break
        z, b = Z[idx], beta[idx]
        info, grad = _logistic_pieces(z, y, b)
        a, c, d = info
        det = a * d - c * c
        bad = ~(det != 0) | ~np.isfinite(det)
        singular[idx[bad]] = True
        step = np.stack([(d * grad[0] - c * grad[1]), (a * grad[1] - c * grad[0])], 1)
        step = step / np.where(bad, 1.0, det)[:, None]
        good = idx[~bad]
        beta[good] += step[~bad]
        done = np.max(np.abs(step[~bad]), axis=1) < tol
        converged[good[done]] = True
        active[idx[bad]] = False
        active[good[done]] = False
    (a, c, d), _ = _logistic_pieces(Z, y, beta)
    det = a * d - c * c
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(np.stack([d / det, a / det], 1))
    ok = (converged & ~singular & (np.max(np.abs(beta), axis=1) <= 15)
          & np.all(np.isfinite(se), axis=1) & (det > 0))
    return beta, se, ok


def _logistic_pieces(z: np.ndarray, y: np.ndarray, b: np.ndarray):
    """Fisher information (a, c, d of [[a, c], [c, d]]) and score of ``y ~ 1 + z``."""
    eta = np.clip(b[:, :1] + b[:, 1:] * z, -40, 40)
    mu = 1 / (1 + np.exp(-eta))
    w = mu * (1 - mu)
    resid = y[None, :] - mu
    info = (_rowsum(w), _rowsum(w * z), _rowsum(w * z * z))
    return info, np.stack([_rowsum(resid), _rowsum(resid * z)])


def _rowsum(a: np.ndarray) -> np.ndarray:
    """Row sums with numpy's pairwise summation, as a 1-D ``np.sum`` of each row gives.

    Fancy indexing can leave an array column-major, where numpy sums a row sequentially
    instead; near the optimum the step-halving test is decided at that rounding level.
    """
    return np.ascontiguousarray(a).sum(axis=1)


class CoxRisk:
    """Samples sorted once per stratum (descending time) with their Breslow risk-set ends."""

    def __init__(self, time: np.ndarray, event: np.ndarray, strata: np.ndarray | None):
        time = np.asarray(time, float)
        event = np.asarray(event, float)
        labels = np.zeros(len(time)) if strata is None else np.asarray(strata)
        self.groups = []
        for value in np.unique(labels):
            rows = np.flatnonzero(labels == value)
            order, block_end = stats._risk_sets(time[rows])
            d = event[rows][order] == 1
            # risk-set end of each event row, ascending (ties repeat)
            self.groups.append((rows[order], d, block_end[d]))
        self.time = np.concatenate([time[r] for r, _, _ in self.groups])
        self.event = np.concatenate([e for _, e, _ in self.groups]).astype(float)

    def split(self, Z: np.ndarray) -> list[np.ndarray]:
        """Per stratum, the sorted samples × genes block of ``Z`` (genes × samples).

        Samples × genes, C order: a cumulative sum down the samples then runs over
        contiguous gene rows (fast), in the same order per gene as a 1-D cumsum.
        """
        return [np.ascontiguousarray(Z[:, rows].T) for rows, _, _ in self.groups]

    def pieces(self, blocks: list[np.ndarray], b: np.ndarray):
        """Log partial likelihood, score and information of ``Surv ~ z_g`` at slopes ``b``."""
        loglik, grad, info = (np.zeros(len(b)) for _ in range(3))
        for x, (_, d, ends) in zip(blocks, self.groups, strict=True):
            eta = x * b
            shift = eta.max(axis=0)
            r = np.exp(eta - shift)
            s0, s1, s2 = _risk_sums(x, r, ends)
            loglik += _colsum(eta[d] - shift - np.log(s0))
            xbar = s1 / s0
            grad += _colsum(x[d] - xbar)
            info += _colsum(s2 / s0 - xbar * xbar)
        return loglik, grad, info


@numba.njit(**_NUMBA)
def _risk_sums(x: np.ndarray, r: np.ndarray,
               ends: np.ndarray) -> tuple:  # pragma: no cover - compiled
    """Risk-set sums Σ r, Σ x·r, Σ x²·r (samples × genes, sorted) at the rows ``ends``.

    The running sums add one sample at a time, as ``np.cumsum`` does (same numbers), but
    across the genes of a row at once, which ``np.cumsum`` down the samples does not do.
    """
    n, g = x.shape
    m = len(ends)
    s0, s1, s2 = np.empty((m, g)), np.empty((m, g)), np.empty((m, g))
    c0, c1, c2 = np.zeros(g), np.zeros(g), np.zeros(g)
    k = 0
    for i in range(n):
        for j in range(g):
            xr = x[i, j] * r[i, j]
            c0[j] += r[i, j]
            c1[j] += xr
            c2[j] += x[i, j] * x[i, j] * r[i, j]
        while k < m and ends[k] == i:
            s0[k], s1[k], s2[k] = c0, c1, c2
            k += 1
    return s0, s1, s2


def _colsum(a: np.ndarray) -> np.ndarray:
    """Column sums with the pairwise summation of a 1-D ``np.sum`` (see :func:`_rowsum`)."""
    return np.ascontiguousarray(a.T).sum(axis=1)


def cox_many(Z: np.ndarray, risk: CoxRisk, *, max_iter: int = 50,
             tol: float = 1e-9) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cox ``Surv ~ z_g`` (Breslow) for every row of ``Z``; (beta, se, ok) as :func:`cox_fit`."""
    G = len(Z)
    blocks = risk.split(Z)
    beta = np.zeros(G)
    loglik, grad, info = risk.pieces(blocks, beta)
    active = np.ones(G, bool)
    converged = np.zeros(G, bool)
    failed = np.zeros(G, bool)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if not len(idx):
            break
        bad = ~(info[idx] != 0) | ~np.isfinite(info[idx])
        failed[idx[bad]] = True
        active[idx[bad]] = False
        idx = idx[~bad]
        # LAPACK's solve, as cox_fit uses: its rounding differs from grad / info, and the
        # step-halving test near the optimum is decided at that rounding level
        step = np.linalg.solve(info[idx, None, None], grad[idx, None, None])[:, 0, 0]
        sub = [x[:, idx] for x in blocks]
        new = risk.pieces(sub, beta[idx] + step)
        worse = new[0] < loglik[idx] - 1e-12
        for _ in range(20):  # step halving, gene by gene as cox_fit does
            if not worse.any():
                break
            step[worse] /= 2
            again = risk.pieces([x[:, worse] for x in sub], beta[idx[worse]] + step[worse])
            for arr, upd in zip(new, again, strict=True):
                arr[worse] = upd
            worse[worse] = again[0] < loglik[idx[worse]] - 1e-12
        beta[idx] += step
        loglik[idx], grad[idx], info[idx] = new
        done = np.abs(step) < tol
        converged[idx[done]] = True
        active[idx[done]] = False
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.sqrt(1.0 / info)
    ok = converged & ~failed & (np.abs(beta) <= 15) & np.isfinite(se) & (info != 0)
    return beta, se, ok


def ph_many(Z: np.ndarray, risk: CoxRisk, beta: np.ndarray, *,
            transform: str = "rank") -> np.ndarray:
    """:func:`her2atlas.stats.ph_test` p of every row's fit (one covariate: closed-form 2 × 2)."""
    p = np.full(len(Z), np.nan)
    if risk.event.sum() < 2:
        return p
    g_all = stats._ph_time_transform(risk.time, risk.event, transform)
    g_all = g_all - g_all[risk.event == 1].mean()
    score, i00, i01, i11 = (np.zeros(len(Z)) for _ in range(4))
    offset = 0
    for x, (rows, d, ends) in zip(risk.split(Z), risk.groups, strict=True):
        g = g_all[offset:offset + len(rows)][d]
        offset += len(rows)
        x = x - _colsum(x) / len(x)  # centred per stratum, as event_moments does
        eta = x * beta
        r = np.exp(eta - eta.max(axis=0))
        s0, s1, s2 = _risk_sums(x, r, ends)
        xbar = s1 / s0
        var = s2 / s0 - xbar * xbar
        score += g @ (x[d] - xbar)
        i00 += _colsum(var)
        i01 += g @ var
        i11 += (g * g) @ var
    det = i00 * i11 - i01 * i01
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2 = score * score * i00 / det
    fine = det != 0
    p[fine] = stats._chi2_sf(chi2[fine], 1)
    return p
