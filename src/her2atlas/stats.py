"""Estimators used by the association stage, implemented directly so they are fast and testable.

Each is checked in the tests against an independent implementation (statsmodels, lifelines,
scipy, scikit-learn) or a published worked example.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

Z975 = sps.norm.ppf(0.975)


@dataclass
class Fit:
    """Coefficients, standard errors and convergence of a fitted model."""

    coef: np.ndarray
    se: np.ndarray
    converged: bool
    iterations: int
    note: str = ""

    def wald(self, j: int) -> tuple[float, float, float, float]:
        """(estimate, lower, upper, p) on the log scale for coefficient ``j``."""
        b, s = float(self.coef[j]), float(self.se[j])
        p = float(2 * sps.norm.sf(abs(b / s))) if s > 0 and np.isfinite(s) else float("nan")
        return b, b - Z975 * s, b + Z975 * s, p


def logistic_fit(X: np.ndarray, y: np.ndarray, *, max_iter: int = 100, tol: float = 1e-10) -> Fit:
    """Maximum-likelihood logistic regression by Newton–Raphson (IRLS).

    Parameters
    ----------
    X
        n × p design matrix including the intercept column.
    y
        0/1 outcomes.

    Returns
    -------
    Fit
        ``converged`` is False on separation (coefficients diverging) or a singular information.
    """
    X = np.asarray(X, float)
    y = np.asarray(y, float)
    beta = np.zeros(X.shape[1])
    converged = False
    note = ""
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - reported in Fit.iterations
        eta = np.clip(X @ beta, -40, 40)
        mu = 1 / (1 + np.exp(-eta))
        w = mu * (1 - mu)
        info = X.T @ (X * w[:, None])
        grad = X.T @ (y - mu)
        try:
            step = np.linalg.solve(info, grad)
        except np.linalg.LinAlgError:
            note = "singular information matrix"
            break
        beta = beta + step
        if np.max(np.abs(step)) < tol:
            converged = True
            break
    if np.max(np.abs(beta)) > 15:
        converged, note = False, "coefficients diverge (complete or quasi-complete separation)"
    elif not converged and not note:
        note = f"did not converge in {max_iter} iterations"
    eta = np.clip(X @ beta, -40, 40)
    mu = 1 / (1 + np.exp(-eta))
    info = X.T @ (X * (mu * (1 - mu))[:, None])
    try:
        se = np.sqrt(np.diag(np.linalg.inv(info)))
    except np.linalg.LinAlgError:
        se = np.full(X.shape[1], np.nan)
        note = note or "singular information matrix"
        converged = False
    return Fit(beta, se, converged, it, note)


def cox_fit(X: np.ndarray, time: np.ndarray, event: np.ndarray, *, max_iter: int = 50,
            tol: float = 1e-9) -> Fit:
    """Cox proportional hazards by Newton–Raphson on the Breslow partial likelihood.

    Parameters
    ----------
    X
        n × p covariates (no intercept).
    time, event
        Follow-up times and 0/1 event indicators.
    """
    X = np.asarray(X, float)
    time = np.asarray(time, float)
    event = np.asarray(event, float)
    order = np.argsort(-time, kind="stable")  # descending time: risk sets are prefixes
    X, time, event = X[order], time[order], event[order]
    n, p = X.shape
    # index of the last row of each block of tied times (risk set of a time includes all ties)
    _, first_idx = np.unique(-time, return_index=True)
    block_end = np.empty(n, int)
    starts = np.sort(first_idx)
    ends = np.append(starts[1:], n) - 1
    for s, e in zip(starts, ends, strict=True):
        block_end[s:e + 1] = e
    beta = np.zeros(p)
    converged = False
    note = ""
    it = 0

    def pieces(b):
        eta = X @ b
        eta -= eta.max()
        r = np.exp(eta)
        s0 = np.cumsum(r)[block_end]
        s1 = np.cumsum(X * r[:, None], axis=0)[block_end]
        s2 = np.cumsum(X[:, :, None] * X[:, None, :] * r[:, None, None], axis=0)[block_end]
        d = event == 1
        loglik = float(np.sum(eta[d] - np.log(s0[d])))
        xbar = s1[d] / s0[d, None]
        grad = np.sum(X[d] - xbar, axis=0)
        info = np.sum(s2[d] / s0[d, None, None] - xbar[:, :, None] * xbar[:, None, :], axis=0)
        return loglik, grad, info

    loglik, grad, info = pieces(beta)
    for it in range(1, max_iter + 1):  # noqa: B007 - reported in Fit.iterations
        try:
            step = np.linalg.solve(info, grad)
        except np.linalg.LinAlgError:
            note = "singular information matrix"
            break
        new = beta + step
        new_loglik, new_grad, new_info = pieces(new)
        halvings = 0
        while new_loglik < loglik - 1e-12 and halvings < 20:
            step /= 2
            new = beta + step
            new_loglik, new_grad, new_info = pieces(new)
            halvings += 1
        beta, loglik, grad, info = new, new_loglik, new_grad, new_info
        if np.max(np.abs(step)) < tol:
            converged = True
            break
    if np.max(np.abs(beta)) > 15:
        converged, note = False, "coefficients diverge (monotone likelihood)"
    elif not converged and not note:
        note = f"did not converge in {max_iter} iterations"
    try:
        se = np.sqrt(np.diag(np.linalg.inv(info)))
    except np.linalg.LinAlgError:
        se = np.full(p, np.nan)
        converged, note = False, note or "singular information matrix"
    return Fit(beta, se, converged, it, note)


def logrank_test(time: np.ndarray, event: np.ndarray, group: np.ndarray) -> tuple[float, float]:
    """Two-group log-rank test; returns (chi-square statistic, p)."""
    time = np.asarray(time, float)
    event = np.asarray(event, int)
    group = np.asarray(group, bool)
    times = np.unique(time[event == 1])
    o_minus_e = 0.0
    var = 0.0
    for t in times:
        at_risk = time >= t
        n = at_risk.sum()
        n1 = (at_risk & group).sum()
        d = ((time == t) & (event == 1)).sum()
        d1 = ((time == t) & (event == 1) & group).sum()
        o_minus_e += d1 - d * n1 / n
        if n > 1:
            var += d * (n1 / n) * (1 - n1 / n) * (n - d) / (n - 1)
    if var <= 0:
        return float("nan"), float("nan")
    chi2 = o_minus_e**2 / var
    return float(chi2), float(sps.chi2.sf(chi2, 1))


def auc_delong(score: np.ndarray, label: np.ndarray) -> tuple[float, float, float, float]:
    """ROC AUC with the DeLong (1988) standard error and a 95% Wald interval.

    The interval is computed on the logit scale and clipped into [0, 1] so that it stays inside
    the unit interval for small samples.

    Returns
    -------
    (auc, se, lower, upper)
    """
    score = np.asarray(score, float)
    label = np.asarray(label, int)
    pos, neg = score[label == 1], score[label == 0]
    m, n = len(pos), len(neg)
    # psi(x, y) = 1 if x > y, 0.5 if tied
    cmp = (pos[:, None] > neg[None, :]).astype(float) + 0.5 * (pos[:, None] == neg[None, :])
    auc = float(cmp.mean())
    v10 = cmp.mean(axis=1)
    v01 = cmp.mean(axis=0)
    var = np.var(v10, ddof=1) / m + np.var(v01, ddof=1) / n if m > 1 and n > 1 else np.nan
    se = float(np.sqrt(var))
    if 0 < auc < 1 and se > 0:
        logit = np.log(auc / (1 - auc))
        se_logit = se / (auc * (1 - auc))
        lower = 1 / (1 + np.exp(-(logit - Z975 * se_logit)))
        upper = 1 / (1 + np.exp(-(logit + Z975 * se_logit)))
    else:
        lower, upper = max(0.0, auc - Z975 * se), min(1.0, auc + Z975 * se)
    return auc, se, float(lower), float(upper)


def benjamini_hochberg(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q); NaN p-values stay NaN and are not counted."""
    p = np.asarray(p, float)
    q = np.full_like(p, np.nan)
    ok = np.isfinite(p)
    m = ok.sum()
    if m == 0:
        return q
    pv = p[ok]
    order = np.argsort(pv)
    ranked = pv[order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(ranked, 1.0)
    q[ok] = out
    return q


def kaplan_meier(time: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan–Meier survival curve: (times including 0, survival just after each time)."""
    time = np.asarray(time, float)
    event = np.asarray(event, int)
    times = np.unique(time[event == 1])
    surv = [1.0]
    s = 1.0
    for t in times:
        n = (time >= t).sum()
        d = ((time == t) & (event == 1)).sum()
        s *= 1 - d / n
        surv.append(s)
    return np.concatenate([[0.0], times]), np.asarray(surv)
