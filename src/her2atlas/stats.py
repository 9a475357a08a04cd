"""Estimators used by the association stage, implemented directly so they are fast and testable.

Each is checked in the tests against an independent implementation (statsmodels, lifelines,
scipy, scikit-learn) or a published worked example.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import chdtrc, ndtr

Z975 = 1.959963984540054  # standard normal 97.5% quantile (scipy.stats is slow to import)


def _norm_sf(x):
    return ndtr(-np.asarray(x, float))


def _chi2_sf(x, df):
    return chdtrc(df, x)


@dataclass
class Fit:
    """Coefficients, standard errors and convergence of a fitted model."""

    coef: np.ndarray
    se: np.ndarray
    converged: bool
    iterations: int
    note: str = ""
    extra: dict | None = None

    def wald(self, j: int) -> tuple[float, float, float, float]:
        """(estimate, lower, upper, p) on the log scale for coefficient ``j``."""
        b, s = float(self.coef[j]), float(self.se[j])
        p = float(2 * _norm_sf(abs(b / s))) if s > 0 and np.isfinite(s) else float("nan")
        return b, b - Z975 * s, b + Z975 * s, p


def _verdict(beta: np.ndarray, converged: bool, note: str, max_iter: int,
             divergence: str) -> tuple[bool, str]:
    """Final convergence flag and note: diverging coefficients mean the fit is not usable."""
    if np.max(np.abs(beta)) > 15:
        return False, f"coefficients diverge ({divergence})"
    if not converged and not note:
        return False, f"did not converge in {max_iter} iterations"
    return converged, note


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
    converged, note = _verdict(beta, converged, note, max_iter,
                               "complete or quasi-complete separation")
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


def _risk_sets(time: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order by descending time and, per row, the last row of its tie block (Breslow risk set)."""
    order = np.argsort(-time, kind="stable")
    t = time[order]
    n = len(t)
    _, first_idx = np.unique(-t, return_index=True)
    starts = np.sort(first_idx)
    ends = np.append(starts[1:], n) - 1
    block_end = np.repeat(ends, np.diff(np.append(starts, n)))
    return order, block_end


class _CoxData:
    """Per-stratum sorted data and the partial-likelihood pieces (log-lik, score, information)."""

    def __init__(self, X, time, event, strata):
        self.groups = []
        for value in np.unique(strata):
            m = strata == value
            order, block_end = _risk_sets(time[m])
            self.groups.append((X[m][order], event[m][order], block_end, time[m][order]))

    def pieces(self, b):
        p = len(b)
        loglik, grad, info = 0.0, np.zeros(p), np.zeros((p, p))
        for X, event, block_end, _ in self.groups:
            eta = X @ b
            shift = eta.max()
            r = np.exp(eta - shift)
            s0 = np.cumsum(r)[block_end]
            s1 = np.cumsum(X * r[:, None], axis=0)[block_end]
            s2 = np.cumsum(X[:, :, None] * X[:, None, :] * r[:, None, None], axis=0)[block_end]
            d = event == 1
            loglik += float(np.sum(eta[d] - shift - np.log(s0[d])))
            xbar = s1[d] / s0[d, None]
            grad += np.sum(X[d] - xbar, axis=0)
            info += np.sum(s2[d] / s0[d, None, None] - xbar[:, :, None] * xbar[:, None, :], axis=0)
        return loglik, grad, info

    def schoenfeld(self, b):
        """(event times, unscaled Schoenfeld residuals) over all strata."""
        times, resid = [], []
        for X, event, block_end, t in self.groups:
            r = np.exp(X @ b - (X @ b).max())
            s0 = np.cumsum(r)[block_end]
            s1 = np.cumsum(X * r[:, None], axis=0)[block_end]
            d = event == 1
            resid.append(X[d] - s1[d] / s0[d, None])
            times.append(t[d])
        return np.concatenate(times), np.concatenate(resid)


def cox_fit(X: np.ndarray, time: np.ndarray, event: np.ndarray, *, strata=None,
            max_iter: int = 50, tol: float = 1e-9) -> Fit:
    """Cox proportional hazards by Newton–Raphson on the Breslow partial likelihood.

    Parameters
    ----------
    X
        n × p covariates (no intercept).
    time, event
        Follow-up times and 0/1 event indicators.
    strata
        Optional stratum labels: a separate baseline hazard per stratum (stratified Cox).

    Returns
    -------
    Fit
        With ``extra["data"]`` kept for :func:`ph_test`.
    """
    X = np.asarray(X, float)
    time = np.asarray(time, float)
    event = np.asarray(event, float)
    n, p = X.shape
    data = _CoxData(X, time, event, np.zeros(n) if strata is None else np.asarray(strata))
    pieces = data.pieces
    beta = np.zeros(p)
    converged = False
    note = ""
    it = 0

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
    converged, note = _verdict(beta, converged, note, max_iter, "monotone likelihood")
    try:
        cov = np.linalg.inv(info)
        se = np.sqrt(np.diag(cov))
    except np.linalg.LinAlgError:
        cov = np.full((p, p), np.nan)
        se = np.full(p, np.nan)
        converged, note = False, note or "singular information matrix"
    fit = Fit(beta, se, converged, it, note)
    fit.extra = {"data": data, "cov": cov}
    return fit


def ph_test(fit: Fit, j: int = 0, *, transform: str = "rank") -> tuple[float, float]:
    """Grambsch–Therneau test of proportional hazards for coefficient ``j``.

    Scaled Schoenfeld residuals (d · V · r + β) are related to a transform of event time
    (``rank``, ``identity`` or ``log``); returns (chi-square with 1 df, p). A small p suggests
    the hazard ratio changes over time.
    """
    data, cov = fit.extra["data"], fit.extra["cov"]
    times, resid = data.schoenfeld(fit.coef)
    d = len(times)
    if d < 3:
        return float("nan"), float("nan")
    if transform == "rank":
        from scipy.stats import rankdata

        g = rankdata(times)
    elif transform == "log":
        g = np.log(times)
    else:
        g = times.astype(float)
    g = g - g.mean()
    scaled = d * resid @ cov  # d · r · V (rows: events)
    num = (g @ scaled[:, j]) ** 2
    den = d * cov[j, j] * (g @ g)
    chi2 = float(num / den)
    return chi2, float(_chi2_sf(chi2, 1))


def firth_logistic_fit(X: np.ndarray, y: np.ndarray, *, max_iter: int = 200,
                       tol: float = 1e-9) -> Fit:
    """Firth's penalised-likelihood logistic regression (Firth 1993; Heinze & Schemper 2002).

    Maximises ``l(β) + ½ log|I(β)|`` by Newton steps on the modified score
    ``X'(y − μ + h(½ − μ))`` (h: hat-matrix diagonal), with step halving. Finite under
    separation; standard errors from the inverse information (Wald intervals).
    """
    X = np.asarray(X, float)
    y = np.asarray(y, float)
    beta = np.zeros(X.shape[1])

    def penalised(b):
        mu = 1 / (1 + np.exp(-np.clip(X @ b, -40, 40)))
        w = mu * (1 - mu)
        info = X.T @ (X * w[:, None])
        sign, logdet = np.linalg.slogdet(info)
        ll = np.sum(y * np.log(mu + 1e-300) + (1 - y) * np.log(1 - mu + 1e-300))
        return ll + 0.5 * logdet, mu, w, info

    value, mu, w, info = penalised(beta)
    converged = False
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - reported in Fit.iterations
        inv = np.linalg.inv(info)
        h = np.einsum("ij,jk,ik->i", X * np.sqrt(w)[:, None], inv, X * np.sqrt(w)[:, None])
        step = inv @ (X.T @ (y - mu + h * (0.5 - mu)))
        for _ in range(30):
            new_value, new_mu, new_w, new_info = penalised(beta + step)
            if new_value >= value - 1e-12:
                break
            step /= 2
        beta = beta + step
        value, mu, w, info = new_value, new_mu, new_w, new_info
        if np.max(np.abs(step)) < tol:
            converged = True
            break
    se = np.sqrt(np.diag(np.linalg.inv(info)))
    return Fit(beta, se, converged, it,
               "" if converged else f"did not converge in {max_iter} iterations")


def logrank_test_k(time: np.ndarray, event: np.ndarray, groups: np.ndarray) -> tuple[float, float]:
    """k-group log-rank test (chi-square with k − 1 df); returns (statistic, p)."""
    time = np.asarray(time, float)
    event = np.asarray(event, int)
    labels = np.unique(groups)
    k = len(labels)
    if k < 2:
        return float("nan"), float("nan")
    o_minus_e = np.zeros(k)
    var = np.zeros((k, k))
    for t in np.unique(time[event == 1]):
        at_risk = time >= t
        n = at_risk.sum()
        d = ((time == t) & (event == 1)).sum()
        n_g = np.array([(at_risk & (groups == g)).sum() for g in labels])
        d_g = np.array([((time == t) & (event == 1) & (groups == g)).sum() for g in labels])
        o_minus_e += d_g - d * n_g / n
        if n > 1:
            frac = n_g / n
            var += d * (n - d) / (n - 1) * (np.diag(frac) - np.outer(frac, frac))
    stat = float(o_minus_e[:-1] @ np.linalg.pinv(var[:-1, :-1]) @ o_minus_e[:-1])
    return stat, float(_chi2_sf(stat, k - 1))


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
    return float(chi2), float(_chi2_sf(chi2, 1))


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
