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
    """Coefficients, standard errors and convergence of a fitted model.

    ``ci_method`` names the interval and test that :meth:`inference` reports: ``"Wald"`` for
    maximum-likelihood fits, ``"profile penalised likelihood"`` for Firth fits (logistf's
    default ``pl = TRUE``: profile penalised-likelihood interval, penalised likelihood-ratio p).
    """

    coef: np.ndarray
    se: np.ndarray
    converged: bool
    iterations: int
    note: str = ""
    extra: dict | None = None
    ci_method: str = "Wald"

    def wald(self, j: int) -> tuple[float, float, float, float]:
        """(estimate, lower, upper, p) on the log scale for coefficient ``j`` (Wald)."""
        b, s = float(self.coef[j]), float(self.se[j])
        p = float(2 * _norm_sf(abs(b / s))) if s > 0 and np.isfinite(s) else float("nan")
        return b, b - Z975 * s, b + Z975 * s, p

    def inference(self, j: int) -> tuple[float, float, float, float]:
        """(estimate, lower, upper, p) on the log scale for coefficient ``j``.

        Firth fits: profile penalised-likelihood 95% interval and penalised likelihood-ratio p
        (as logistf with ``pl = TRUE``), computed once per coefficient and cached. Other fits:
        :meth:`wald`. ``ci_method`` says which.
        """
        profile = (self.extra or {}).get("firth_profile")
        if profile is None:
            return self.wald(j)
        cache = profile.setdefault("cache", {})
        if j not in cache:
            cache[j] = _firth_profile_inference(profile["problem"], self.coef, j,
                                                profile["lpen"], self.converged)
        return cache[j]


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

    @staticmethod
    def event_moments(X, event, block_end, b):
        """Per event row of one stratum: Schoenfeld residual x − x̄(t) and V(t) (Breslow).

        Covariates are centred first (as ``zph1.c`` does) to limit round-off in V(t).
        """
        X = X - X.mean(axis=0)
        eta = X @ b
        r = np.exp(eta - eta.max())
        s0 = np.cumsum(r)[block_end]
        s1 = np.cumsum(X * r[:, None], axis=0)[block_end]
        s2 = np.cumsum(X[:, :, None] * X[:, None, :] * r[:, None, None], axis=0)[block_end]
        d = event == 1
        xbar = s1[d] / s0[d, None]
        var = s2[d] / s0[d, None, None] - xbar[:, :, None] * xbar[:, None, :]
        return X[d] - xbar, var


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


def _ph_time_transform(time: np.ndarray, event: np.ndarray, transform: str) -> np.ndarray:
    """g(t) for every observation, as survival 3.x's ``cox.zph`` (over all rows, all strata).

    ``km``: 1 − left-continuous Kaplan–Meier of the pooled sample; ``rank``: average ranks of
    all follow-up times (censored included); ``identity``; ``log``.
    """
    if transform == "rank":
        from scipy.stats import rankdata

        return rankdata(time)
    if transform == "log":
        return np.log(time)
    if transform == "identity":
        return time.astype(float)
    if transform == "km":
        grid, surv = kaplan_meier(time, event)
        before = np.searchsorted(grid[1:], time, side="left")  # event times strictly below t
        return 1.0 - surv[before]
    raise ValueError(f"unknown PH-test transform {transform!r} (km, rank, identity, log)")


def ph_test(fit: Fit, j: int = 0, *, transform: str = "rank") -> tuple[float, float]:
    """Proportional-hazards score test for coefficient ``j``, exactly as survival 3.x ``cox.zph``.

    Grambsch & Therneau's test as computed since survival 3.0 (``zph1.c``): for the model
    extended by ``β_j·g(t)·x_j``, the score for the new term at (β̂, 0),
    ``U = Σ_events g(t_i)(x_ij − x̄_j(t_i))``, against the full 2p × 2p information
    (Breslow risk sets, ``Σ_events (1, g, g²) ⊗ V(t_i)``) — not the old approximation with the
    average variance. ``g`` is the chosen transform of time centred at its mean over the
    events; the score for β is set to 0. Returns (chi-square with 1 df, p); the fit must use
    Breslow ties, as :func:`cox_fit` does (``coxph(ties = "breslow")``).
    """
    data: _CoxData = fit.extra["data"]
    times = np.concatenate([t for *_, t in data.groups])
    events = np.concatenate([e for _, e, _, _ in data.groups])
    if events.sum() < 2:
        return float("nan"), float("nan")
    g_all = _ph_time_transform(times, events, transform)
    g_all = g_all - g_all[events == 1].mean()
    p = len(fit.coef)
    score, info = np.zeros(p), np.zeros((2 * p, 2 * p))
    offset = 0
    for X, event, block_end, t in data.groups:
        g = g_all[offset:offset + len(t)]
        offset += len(t)
        resid, var = data.event_moments(X, event, block_end, fit.coef)
        gd = g[event == 1]
        score += gd @ resid
        info[:p, :p] += var.sum(axis=0)
        info[:p, p:] += np.tensordot(gd, var, axes=1)
        info[p:, p:] += np.tensordot(gd**2, var, axes=1)
    info[p:, :p] = info[:p, p:].T
    keep = np.r_[np.arange(p), p + j]
    u = np.zeros(p + 1)
    u[p] = score[j]
    try:
        chi2 = float(u @ np.linalg.solve(info[np.ix_(keep, keep)], u))
    except np.linalg.LinAlgError:
        return float("nan"), float("nan")
    return chi2, float(_chi2_sf(chi2, 1))


class _FirthProblem:
    """Penalised log-likelihood ``l(β) + ½ log|X'WX|`` of a logistic model and its Newton step."""

    def __init__(self, X: np.ndarray, y: np.ndarray):
        self.X = X
        self.y = y

    def evaluate(self, b: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """(penalised log-likelihood, modified score, Fisher information) at ``b``.

        The modified score ``X'(y − μ + h(½ − μ))`` is the exact gradient of the penalised
        log-likelihood for the logit link.
        """
        X, y = self.X, self.y
        eta = X @ b
        mu = _expit(eta)
        w = mu * (1 - mu)
        info = X.T @ (X * w[:, None])
        sign, logdet = np.linalg.slogdet(info)
        loglik = float(np.sum(y * eta - np.logaddexp(0.0, eta)))
        if sign <= 0:
            return -np.inf, np.zeros_like(b), info
        xw = X * np.sqrt(w)[:, None]
        h = np.einsum("ij,ij->i", xw @ np.linalg.inv(info), xw)
        score = X.T @ (y - mu + h * (0.5 - mu))
        return loglik + 0.5 * logdet, score, info

    def maximise(self, beta: np.ndarray, free: np.ndarray, *, max_iter: int = 200,
                 tol: float = 1e-10) -> tuple[np.ndarray, float, bool, int]:
        """Maximise over the coordinates in ``free`` (the others stay as in ``beta``).

        Newton–Raphson with the Fisher information on the free block and step halving on the
        penalised log-likelihood. Returns (β, penalised log-likelihood, converged, iterations).
        """
        beta = np.array(beta, float)
        value, score, info = self.evaluate(beta)
        if not np.any(free):
            return beta, value, True, 0
        it = 0
        for it in range(1, max_iter + 1):  # noqa: B007 - returned
            try:
                step_free = np.linalg.solve(info[np.ix_(free, free)], score[free])
            except np.linalg.LinAlgError:
                return beta, value, False, it
            step = np.zeros_like(beta)
            step[free] = step_free
            biggest = np.max(np.abs(step))
            if biggest > 5:  # logistf's maxstep
                step *= 5 / biggest
            for _ in range(40):
                new_value, new_score, new_info = self.evaluate(beta + step)
                if new_value >= value - 1e-12:
                    break
                step /= 2
            beta = beta + step
            value, score, info = new_value, new_score, new_info
            if np.max(np.abs(step)) < tol:
                return beta, value, True, it
        return beta, value, False, it


def _expit(eta: np.ndarray) -> np.ndarray:
    """Inverse logit, computed without overflow."""
    return np.exp(-np.logaddexp(0.0, -eta))


def firth_logistic_fit(X: np.ndarray, y: np.ndarray, *, max_iter: int = 200,
                       tol: float = 1e-10) -> Fit:
    """Firth's penalised-likelihood logistic regression (Firth 1993; Heinze & Schemper 2002).

    Maximises ``l(β) + ½ log|I(β)|`` by Newton steps on the modified score
    ``X'(y − μ + h(½ − μ))`` (h: hat-matrix diagonal), with step halving. Finite under
    separation. ``se`` is from the inverse Fisher information (used by :meth:`Fit.wald`);
    :meth:`Fit.inference` gives logistf's default profile penalised-likelihood interval and
    penalised likelihood-ratio p (``ci_method = "profile penalised likelihood"``).
    """
    problem = _FirthProblem(np.asarray(X, float), np.asarray(y, float))
    free = np.ones(problem.X.shape[1], bool)
    beta, value, converged, it = problem.maximise(np.zeros(problem.X.shape[1]), free,
                                                  max_iter=max_iter, tol=tol)
    _, _, info = problem.evaluate(beta)
    try:
        se = np.sqrt(np.diag(np.linalg.inv(info)))
    except np.linalg.LinAlgError:
        se = np.full(len(beta), np.nan)
        converged = False
    fit = Fit(beta, se, converged, it,
              "" if converged else f"did not converge in {max_iter} iterations",
              ci_method="profile penalised likelihood")
    fit.extra = {"firth_profile": {"problem": problem, "lpen": value}}
    return fit


CHI2_95_1DF = 3.841458820694124  # qchisq(0.95, 1)


def _profile_at(problem: _FirthProblem, start: np.ndarray, j: int,
                value: float) -> tuple[float, np.ndarray]:
    """Profile penalised log-likelihood with coefficient ``j`` fixed at ``value``."""
    beta = np.array(start, float)
    beta[j] = value
    free = np.ones(len(beta), bool)
    free[j] = False
    beta, lpen, _, _ = problem.maximise(beta, free)
    return lpen, beta


def _profile_limit(problem: _FirthProblem, beta_hat: np.ndarray, j: int, target: float,
                   direction: int, scale: float) -> float:
    """Where the profile falls to ``target`` on one side of the estimate (±inf if never).

    Brackets by doubling steps away from the estimate (warm-starting each constrained fit from
    the previous one), then finds the crossing with Brent's method.
    """
    from scipy.optimize import brentq

    inner, start = float(beta_hat[j]), beta_hat
    step = scale
    warm = {}

    def excess(value: float) -> float:
        nearest = min(warm, key=lambda v: abs(v - value)) if warm else None
        lpen, beta = _profile_at(problem, warm[nearest] if nearest is not None else start,
                                 j, value)
        warm[value] = beta
        return max(lpen - target, -1e6)  # -inf where the information is numerically singular

    for _ in range(60):
        outer = float(beta_hat[j]) + direction * step
        if excess(outer) < 0:
            lo, hi = sorted((inner, outer))
            return float(brentq(excess, lo, hi, xtol=1e-10, rtol=1e-12, maxiter=200))
        inner, step = outer, step * 2
        if step > 1e3:
            break
    return direction * np.inf


def _firth_profile_inference(problem: _FirthProblem, beta_hat: np.ndarray, j: int,
                             lpen_hat: float,
                             converged: bool) -> tuple[float, float, float, float]:
    """(estimate, profile lower, profile upper, penalised LR p) for coefficient ``j``.

    As logistf (``pl = TRUE``): the interval holds every b_j with
    ``2·(lpen(β̂) − max_{β−j} lpen(b_j, β−j)) ≤ χ²₁(0.95)``; the p-value is the penalised
    likelihood-ratio test of b_j = 0 with every other coefficient re-estimated, the penalty
    always ``½ log|X'WX|`` of the full design.
    """
    b = float(beta_hat[j])
    if not converged:
        return b, float("nan"), float("nan"), float("nan")
    _, _, info = problem.evaluate(beta_hat)
    scale = float(np.sqrt(np.linalg.inv(info)[j, j]))
    scale = max(scale, 0.05) if np.isfinite(scale) else 1.0
    target = lpen_hat - CHI2_95_1DF / 2
    lower = _profile_limit(problem, beta_hat, j, target, -1, scale)
    upper = _profile_limit(problem, beta_hat, j, target, 1, scale)
    restricted, _ = _profile_at(problem, beta_hat, j, 0.0)
    stat = max(2 * (lpen_hat - restricted), 0.0)
    return b, lower, upper, float(_chi2_sf(stat, 1))


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


AUC_INTERVALS = ("delong", "delong_logit")


def auc_delong(score: np.ndarray, label: np.ndarray, *,
               ci: str = "delong") -> tuple[float, float, float, float]:
    """ROC AUC (P(case score > control score), ties count ½) with the DeLong (1988) SE.

    Parameters
    ----------
    score, label
        Scores and 0/1 labels (1 = case); higher scores are taken to indicate cases (pROC's
        ``direction = "<"``).
    ci
        ``"delong"`` (default; pROC's ``ci.auc`` default): AUC ± z₀.₉₇₅·SE on the AUC scale,
        bounds clipped to [0, 1]. ``"delong_logit"``: the same SE carried to the logit scale
        (SE / (AUC(1 − AUC))), interval back-transformed; falls back to the clipped normal
        interval when AUC is 0 or 1.

    Returns
    -------
    (auc, se, lower, upper)
    """
    if ci not in AUC_INTERVALS:
        raise ValueError(f"unknown AUC interval {ci!r}; choose one of {AUC_INTERVALS}")
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
    if ci == "delong_logit" and 0 < auc < 1 and se > 0:
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
