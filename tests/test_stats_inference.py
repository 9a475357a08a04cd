"""Firth profile inference, cox.zph's exact PH test and pROC's AUC interval vs their references.

Every number pinned here was printed by the reference implementation named beside it (R 4.2.2
with logistf 1.26.1's own C code and R code, survival 3.5-3, pROC 1.18.0), or is computed in the
test itself by independent brute force. R is never called at test time.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import brentq, minimize
from scipy.stats import chi2

from her2atlas import stats

# ---------------------------------------------------------------------------------------------
# Firth: profile penalised-likelihood intervals and penalised likelihood-ratio p (logistf pl=TRUE)
# ---------------------------------------------------------------------------------------------
# Reference numbers: logistf 1.26.1 (github.com/georgheinze/logistf, src/logistf.c compiled with
# R CMD SHLIB and driven by the package's own R/logistf.R, logistf.fit.R, logistpl.R), i.e.
#   fit <- logistf(HG ~ NV + PI + EH, data = endometrial)   # defaults: pl = TRUE, alpha = 0.05
#   cbind(fit$coefficients, fit$ci.lower, fit$ci.upper, fit$prob)
# logistf stops its iterations at xconv = lconv = 1e-5, so its point estimates agree to ~1e-7
# (1e-5 under separation); its interval ends and p-values agree to ~1e-9.

# Endometrial cancer study (Heinze & Schemper 2002, Statist. Med. 21:2409; 79 patients): NV
# neovasculization, PI pulsatility index, EH endometrium height, HG histology grade (outcome).
# Values as shipped in R package brglm2 (data/endometrial.rda), in that order. NV separates HG
# (no NV = 1 patient has HG = 0), so ML diverges for NV.
ENDOMETRIAL = np.array([
    # NV, PI, EH, HG
    (0, 13, 1.64, 0), (0, 16, 2.26, 0), (0, 8, 3.14, 0), (0, 34, 2.68, 0), (0, 20, 1.28, 0),
    (0, 5, 2.31, 0), (0, 17, 1.80, 0), (0, 10, 1.68, 0), (0, 26, 1.56, 0), (0, 17, 2.31, 0),
    (0, 8, 2.01, 0), (0, 7, 1.89, 0), (0, 20, 3.15, 0), (0, 10, 1.23, 0), (0, 18, 1.27, 0),
    (0, 16, 1.76, 0), (0, 18, 2.00, 0), (0, 8, 2.64, 1), (0, 29, 0.88, 1), (0, 12, 1.27, 1),
    (0, 20, 1.37, 1), (1, 38, 0.97, 1), (1, 22, 1.14, 1), (1, 7, 0.88, 1), (1, 25, 0.91, 1),
    (1, 15, 0.58, 1), (0, 7, 0.97, 1), (0, 28, 1.50, 0), (0, 11, 1.33, 0), (0, 19, 2.37, 0),
    (0, 10, 1.82, 0), (0, 10, 3.13, 0), (0, 18, 1.31, 0), (0, 14, 1.92, 0), (0, 21, 1.64, 0),
    (0, 11, 2.01, 0), (0, 17, 1.88, 0), (0, 25, 1.93, 0), (0, 16, 2.11, 0), (0, 19, 1.29, 0),
    (0, 15, 1.72, 0), (0, 33, 0.75, 0), (0, 24, 1.92, 0), (0, 48, 1.84, 1), (0, 12, 1.11, 1),
    (0, 19, 1.61, 1), (0, 2, 1.18, 1), (1, 22, 1.44, 1), (1, 40, 1.18, 1), (1, 5, 0.93, 1),
    (1, 0, 1.17, 1), (0, 21, 1.19, 1), (0, 15, 1.06, 1), (0, 29, 2.02, 0), (0, 15, 2.29, 0),
    (0, 12, 2.33, 0), (0, 3, 2.90, 0), (0, 20, 1.70, 0), (0, 23, 1.41, 0), (0, 12, 2.25, 0),
    (0, 22, 1.54, 0), (0, 42, 1.97, 0), (0, 15, 1.75, 0), (0, 13, 2.16, 0), (0, 14, 2.57, 0),
    (0, 19, 1.37, 0), (0, 12, 3.61, 0), (0, 13, 2.04, 0), (0, 10, 2.17, 0), (0, 12, 1.69, 1),
    (1, 49, 0.27, 1), (0, 6, 1.84, 1), (0, 5, 1.30, 1), (0, 17, 0.96, 1), (1, 11, 1.01, 1),
    (1, 21, 0.98, 1), (0, 5, 0.35, 1), (1, 19, 1.02, 1), (0, 33, 0.85, 1),
])

# logistf on the endometrial data: (coef, lower, upper, p) for intercept, NV, PI, EH.
ENDOMETRIAL_LOGISTF = [
    (3.7745595093083, 1.082537108455, 7.2092804982461, 4.19362788559e-03),
    (2.9292732969675, 0.609724436304, 7.8546317138705, 9.12366754709e-03),
    (-0.0347517521155, -0.124458720852, 0.0404554731806, 3.87482203566e-01),
    (-2.6041638719814, -4.365183247261, -1.2327210572176, 2.50686721486e-05),
]

# Urinary tract infection data (logistf's `sex2`, 239 women; LogXact 9 manual), aggregated to
# its 36 distinct rows: case, age, oc, vic, vicl, vis, dia, count. `dia` is quasi-separated
# (every woman using a diaphragm is a case).
SEX2_PATTERNS = np.array([
    (0, 0, 1, 0, 0, 0, 0, 42), (1, 0, 1, 0, 0, 0, 0, 44), (0, 1, 1, 0, 0, 0, 0, 14),
    (1, 1, 1, 0, 0, 0, 0, 5), (0, 0, 0, 1, 0, 0, 0, 2), (1, 0, 0, 1, 0, 0, 0, 14),
    (1, 1, 0, 1, 0, 0, 0, 2), (0, 0, 1, 1, 0, 0, 0, 1), (1, 0, 1, 1, 0, 0, 0, 15),
    (0, 1, 1, 1, 0, 0, 0, 1), (1, 1, 1, 1, 0, 0, 0, 3), (0, 0, 0, 1, 1, 0, 0, 8),
    (1, 0, 0, 1, 1, 0, 0, 10), (0, 1, 0, 1, 1, 0, 0, 2), (1, 1, 0, 1, 1, 0, 0, 1),
    (0, 0, 1, 1, 1, 0, 0, 5), (1, 0, 1, 1, 1, 0, 0, 7), (0, 0, 0, 0, 0, 1, 0, 1),
    (1, 0, 0, 0, 0, 1, 0, 1), (0, 0, 1, 0, 0, 1, 0, 1), (0, 1, 1, 0, 0, 1, 0, 1),
    (0, 0, 0, 1, 0, 1, 0, 1), (1, 0, 0, 1, 0, 1, 0, 3), (1, 1, 0, 1, 0, 1, 0, 1),
    (1, 0, 1, 1, 0, 1, 0, 2), (0, 0, 0, 1, 1, 1, 0, 18), (1, 0, 0, 1, 1, 1, 0, 12),
    (0, 1, 0, 1, 1, 1, 0, 4), (0, 0, 1, 1, 1, 1, 0, 6), (1, 0, 1, 1, 1, 1, 0, 3),
    (0, 1, 1, 1, 1, 1, 0, 2), (1, 0, 1, 0, 0, 0, 1, 3), (1, 0, 1, 1, 0, 0, 1, 1),
    (1, 1, 0, 1, 0, 1, 1, 1), (1, 0, 0, 1, 1, 1, 1, 1), (1, 1, 0, 1, 1, 1, 1, 1),
])

# fit <- logistf(case ~ age + oc + vic + vicl + vis + dia, data = sex2)
SEX2_LOGISTF = [
    (0.1202540458838, -0.818559106359, 1.0731512160265, 8.02026802338e-01),
    (-1.1059813081749, -1.973788382837, -0.3074251415758, 6.14347184509e-03),
    (-0.0688167303923, -0.941436330166, 0.7892020212605, 8.75191058626e-01),
    (2.2688746442574, 1.273021571200, 3.4354327309152, 1.67887695868e-06),
    (-2.1114081725715, -3.260861117529, -1.1177349469837, 1.23780476281e-05),
    (-0.7883169449753, -1.608087889529, 0.0151846790658, 5.44970080615e-02),
    (3.0960116608921, 0.774568169221, 8.0302935221586, 4.95187338639e-03),
]

# A small completely separated sample: n = 22, 6 events, all events at the largest x.
SMALL_X = np.array([-1.9, -1.6, -1.4, -1.1, -0.9, -0.8, -0.6, -0.4, -0.3, -0.1, 0.0, 0.2, 0.3,
                    0.5, 0.6, 0.8, 0.9, 1.1, 1.3, 1.5, 1.8, 2.1])
SMALL_Z = np.array([0, 1, 0, 0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 1, 0], float)
SMALL_Y = np.r_[np.zeros(16), np.ones(6)]
# d <- data.frame(x = SMALL_X, z = SMALL_Z, y = SMALL_Y); fit <- logistf(y ~ x + z, data = d)
SMALL_LOGISTF = [
    (-3.17358615947, -15.47412006965, -0.257030573524, 2.68844053846e-02),
    (4.52453773775, 1.26530209941, 18.427829603435, 6.62517871719e-05),
    (-1.24601951275, -8.19527191086, 2.191353294791, 4.82624509039e-01),
]


def _small_design() -> np.ndarray:
    return np.column_stack([np.ones(22), SMALL_X, SMALL_Z])


def _check_against_logistf(fit: stats.Fit, reference) -> None:
    for j, (coef, lower, upper, p) in enumerate(reference):
        b, lo, hi, pv = fit.inference(j)
        assert b == pytest.approx(coef, abs=1e-5)  # logistf's xconv
        assert lo == pytest.approx(lower, abs=1e-7)
        assert hi == pytest.approx(upper, abs=1e-7)
        assert pv == pytest.approx(p, rel=1e-6)


def test_firth_profile_inference_matches_logistf_on_endometrial_data():
    X = np.column_stack([np.ones(len(ENDOMETRIAL)), ENDOMETRIAL[:, :3]])
    fit = stats.firth_logistic_fit(X, ENDOMETRIAL[:, 3])
    assert fit.converged
    assert fit.ci_method == "profile penalised likelihood"
    _check_against_logistf(fit, ENDOMETRIAL_LOGISTF)


def test_firth_profile_inference_matches_logistf_on_sex2():
    rows = np.repeat(SEX2_PATTERNS[:, :7], SEX2_PATTERNS[:, 7].astype(int), axis=0)
    assert len(rows) == 239
    X = np.column_stack([np.ones(len(rows)), rows[:, 1:7]])
    fit = stats.firth_logistic_fit(X, rows[:, 0])
    _check_against_logistf(fit, SEX2_LOGISTF)


def test_firth_profile_inference_matches_logistf_on_small_separated_sample():
    fit = stats.firth_logistic_fit(_small_design(), SMALL_Y)
    _check_against_logistf(fit, SMALL_LOGISTF)


def _negative_penalised_loglik(beta: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    """−(l(β) + ½ log det X'WX), written out independently of the package."""
    eta = X @ beta
    loglik = np.sum(y * eta - np.logaddexp(0, eta))
    p = 1 / (1 + np.exp(-eta))
    info = X.T @ np.diag(p * (1 - p)) @ X
    return -(loglik + 0.5 * np.linalg.slogdet(info)[1])


def _brute_max(X, y, start, fixed=None):
    """Maximum penalised log-likelihood by generic optimisers (``fixed=(j, value)``)."""
    free = np.ones(X.shape[1], bool)
    if fixed is not None:
        free[fixed[0]] = False

    def objective(theta):
        beta = np.empty(X.shape[1])
        beta[free] = theta
        if fixed is not None:
            beta[fixed[0]] = fixed[1]
        return _negative_penalised_loglik(beta, X, y)

    # quasi-Newton with finite-difference gradients, then a Nelder–Mead polish
    res = minimize(objective, np.asarray(start, float)[free], method="BFGS",
                   options={"gtol": 1e-10})
    res = minimize(objective, res.x, method="Nelder-Mead",
                   options={"xatol": 1e-11, "fatol": 1e-14, "maxiter": 20000})
    theta = res.x
    beta = np.empty(X.shape[1])
    beta[free] = theta
    if fixed is not None:
        beta[fixed[0]] = fixed[1]
    return -res.fun, beta


def test_firth_profile_matches_brute_force_profile_on_separated_sample():
    """Independent profile: scipy.optimize over the other coefficients, brentq over b_j."""
    X, y = _small_design(), SMALL_Y
    top, beta_hat = _brute_max(X, y, np.zeros(3))
    fit = stats.firth_logistic_fit(X, y)
    ml = stats.logistic_fit(X, y)
    assert not ml.converged  # complete separation: ML does not exist
    cut = chi2.ppf(0.95, 1) / 2
    for j in (1, 2):
        def excess(value, j=j):
            return _brute_max(X, y, beta_hat, fixed=(j, value))[0] - (top - cut)

        b = beta_hat[j]
        lower = brentq(excess, b - 16, b, xtol=1e-9)
        upper = brentq(excess, b, b + 16, xtol=1e-9)
        restricted = _brute_max(X, y, beta_hat, fixed=(j, 0.0))[0]
        p = chi2.sf(2 * (top - restricted), 1)
        est, lo, hi, pv = fit.inference(j)
        assert est == pytest.approx(b, abs=1e-5)
        assert lo == pytest.approx(lower, abs=1e-5)
        assert hi == pytest.approx(upper, abs=1e-5)
        assert pv == pytest.approx(p, abs=1e-5)


def test_firth_profile_interval_differs_from_wald_and_ml_reports_wald():
    fit = stats.firth_logistic_fit(_small_design(), SMALL_Y)
    # the Wald interval (Heinze & Schemper's criticism) is far from the profile one here
    _, wald_lo, wald_hi, wald_p = fit.wald(1)
    _, lo, hi, p = fit.inference(1)
    assert wald_lo == pytest.approx(0.037435, abs=1e-5)
    assert lo == pytest.approx(1.265302, abs=1e-5)
    assert wald_p == pytest.approx(0.048119, abs=1e-5)
    assert p == pytest.approx(6.62518e-05, rel=1e-5)
    rng = np.random.default_rng(3)
    X = np.column_stack([np.ones(80), rng.normal(size=80)])
    y = (rng.random(80) < 1 / (1 + np.exp(-X[:, 1]))).astype(float)
    ml = stats.logistic_fit(X, y)
    assert ml.ci_method == "Wald"
    assert ml.inference(1) == ml.wald(1)


# ---------------------------------------------------------------------------------------------
# Proportional-hazards test: survival 3.5-3 cox.zph (exact score test) on coxph(ties="breslow")
# ---------------------------------------------------------------------------------------------
# Datasets generated once with numpy and written here; reference numbers from R 4.2.2:
#   library(survival); options(digits = 15)
#   fa <- coxph(Surv(time, event) ~ x + w, data = A, ties = "breslow")
#   fb <- coxph(Surv(time, event) ~ x, data = B, ties = "breslow")
#   fc <- coxph(Surv(time, event) ~ x + strata(s), data = C, ties = "breslow")
#   fd <- coxph(Surv(time, event) ~ g, data = D, ties = "breslow")
#   for (tr in c("km", "rank", "identity", "log")) {
#     cox.zph(fa, transform = tr, terms = FALSE)$table[c("x", "w"), c("chisq", "p")]
#     cox.zph(fb, transform = tr)$table["x", c("chisq", "p")]   # and fc, fd alike
#   }
# A: n = 60, 34 events on 14 distinct event times (heavy ties), two covariates.
# B: n = 25, 5 events, tied pairs at t = 1 and t = 8 (few events with ties).
# C: n = 50, 31 events, two strata.  D: n = 40, 28 events, crossing hazards (PH fails).
A_TIME = np.array([1, 7, 32, 16, 34, 6, 4, 13, 5, 9, 18, 37, 26, 8, 20, 1, 26, 14, 1, 19, 9, 10,
    38, 3, 6, 2, 24, 8, 5, 33, 7, 2, 31, 3, 1, 12, 10, 23, 1, 1, 12, 1, 23, 5, 33, 2, 1, 37, 7,
    13, 1, 14, 5, 4, 1, 7, 26, 1, 4, 25])
A_EVENT = np.array([1, 1, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 0, 1, 1, 0, 1, 0, 0, 1, 0, 1,
    0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 1, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1, 1, 0, 1, 1, 1, 0,
    1, 1, 0])
A_X = np.array([0.65, 0.47, -0.64, -1.18, -0.14, 1.20, 1.33, 0.91, 0.35, 1.60, 1.23, -0.22, -1.06,
    -0.36, -0.42, 0.69, -1.90, -0.19, 1.67, -0.92, -0.76, -0.08, -1.42, -0.13, -0.02, -0.00,
    -0.99, -0.37, 0.65, -0.71, 0.55, 0.66, -1.43, -0.65, 0.66, 0.49, 0.18, -0.35, 0.11, 1.87,
    -0.22, 0.58, -0.42, -0.20, 0.65, -0.93, -0.24, -0.61, -0.86, 0.18, 1.24, 0.22, -0.38, -1.45,
    0.82, 0.21, -0.63, 0.86, 1.57, -1.63])
A_W = np.array([0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 0, 0, 1, 1, 1, 1,
    0, 1])
B_TIME = np.array([9, 13, 4, 9, 8, 5, 17, 1, 19, 13, 13, 14, 1, 5, 10, 7, 10, 4, 20, 6, 15, 8, 18,
    8, 5])
B_EVENT = np.array([0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0])
B_X = np.array([0.00, 0.30, -0.27, -0.89, -0.45, -0.99, 0.06, 1.34, -0.49, -0.62, 0.49, 0.36,
    0.11, -0.93, -0.03, 0.70, -1.34, -0.46, -1.90, -1.29, -1.84, -0.24, -1.27, 0.27, 0.16])
C_TIME = np.array([15.3, 1.2, 14.9, 7.4, 0.4, 2.9, 5.3, 14.7, 6.8, 5.7, 11.5, 16.7, 12.4, 3.5,
    0.4, 0.8, 4.5, 7.4, 0.7, 9.6, 1.8, 9.8, 4.9, 2.8, 1.3, 3.5, 5.9, 10.6, 1.7, 6.4, 3.9, 3.3,
    7.6, 14.2, 7.6, 0.4, 4.1, 5.8, 17.5, 7.2, 0.3, 0.3, 6.5, 3.4, 9.9, 10.1, 1.4, 8.5, 3.3, 7.6])
C_EVENT = np.array([1, 1, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0, 1, 1,
    1, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 0])
C_X = np.array([-1.05, 0.69, -0.13, 0.79, 0.13, -0.74, -1.50, -0.87, 1.04, -0.82, 0.60, 0.82,
    -0.38, 1.60, -0.45, -1.31, 0.15, -0.01, 0.57, -1.67, -0.41, -1.89, 0.57, -0.48, 2.04, -0.01,
    0.34, 0.99, 1.92, -0.65, 0.87, 1.13, 0.47, -0.29, -0.72, 1.17, -0.33, -1.05, -1.27, 1.09,
    -1.21, -0.29, -0.75, -0.03, -0.70, 0.45, 0.56, 0.98, 0.72, -1.76])
C_STRATUM = np.array([0, 1, 0, 1, 1, 1, 1, 1, 0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 0, 1, 1, 1, 0, 0,
    1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 0, 0, 1, 0])
D_TIME = np.array([6.12, 1.06, 9.43, 13.24, 5.77, 7.36, 6.61, 1.33, 4.73, 0.17, 13.25, 0.56, 4.83,
    0.31, 4.58, 1.08, 5.74, 7.18, 9.88, 0.04, 4.75, 4.91, 7.22, 0.48, 8.67, 6.80, 5.17, 12.74,
    2.11, 0.41, 2.85, 15.93, 2.87, 0.04, 4.79, 8.79, 2.37, 1.66, 5.69, 4.49])
D_EVENT = np.array([1, 1, 1, 0, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0, 0, 1, 0, 1,
    1, 0, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 0, 0])
D_GROUP = np.array([0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1,
    0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1])

# (case, coefficient index) -> {transform: (chisq, p)} as printed by cox.zph
ZPH_REFERENCE = {
    ("A", 0): {"km": (0.126362559689711, 0.722233682089395),
               "rank": (2.85063643078345e-05, 0.995740006723476),
               "identity": (0.397183311419139, 0.528547508973746),
               "log": (0.048190214498076, 0.826242901371796)},
    ("A", 1): {"km": (0.00884134962191043, 0.925086556120788),
               "rank": (0.000283791325711795, 0.986559386929371),
               "identity": (0.00588417202650229, 0.938855556244771),
               "log": (0.0520049317316641, 0.819610558766566)},
    ("B", 0): {"km": (0.00237809674360593, 0.961105990539427),
               "rank": (0.00325780668525421, 0.954483699093098),
               "identity": (0.00113133827282428, 0.973167915164746),
               "log": (0.0471225174157837, 0.828148170131387)},
    ("C", 0): {"km": (0.980597225197344, 0.322051405354182),
               "rank": (0.854841655450802, 0.355186255412725),
               "identity": (0.806570951031953, 0.369135996021958),
               "log": (1.43569544809123, 0.230837182635832)},
    ("D", 0): {"km": (12.8711578282201, 0.00033368509773162),
               "rank": (12.4763364187504, 0.000412139693919432),
               "identity": (13.2955375284698, 0.000266038561765626),
               "log": (12.9828054673963, 0.000314364579481562)},
}
# coxph coefficients: A (x, w), B, C, D
COXPH_COEF = {"A": [0.980939257729639, 0.77095556543935], "B": [1.94398495965639],
              "C": [0.634200909458936], "D": [0.158473590522608]}


def _cox_case(name: str) -> stats.Fit:
    if name == "A":
        return stats.cox_fit(np.column_stack([A_X, A_W]), A_TIME, A_EVENT)
    if name == "B":
        return stats.cox_fit(B_X[:, None], B_TIME, B_EVENT)
    if name == "C":
        return stats.cox_fit(C_X[:, None], C_TIME, C_EVENT, strata=C_STRATUM)
    return stats.cox_fit(D_GROUP[:, None].astype(float), D_TIME, D_EVENT)


@pytest.mark.parametrize("transform", ["km", "rank", "identity", "log"])
@pytest.mark.parametrize("case", list(ZPH_REFERENCE))
def test_ph_test_matches_survival_cox_zph(case, transform):
    name, j = case
    fit = _cox_case(name)
    np.testing.assert_allclose(fit.coef, COXPH_COEF[name], rtol=1e-8)
    chisq, p = stats.ph_test(fit, j, transform=transform)
    ref_chisq, ref_p = ZPH_REFERENCE[case][transform]
    assert chisq == pytest.approx(ref_chisq, rel=1e-6)
    assert p == pytest.approx(ref_p, rel=1e-6)


def test_ph_test_rejects_unknown_transform():
    with pytest.raises(ValueError, match="unknown PH-test transform"):
        stats.ph_test(_cox_case("B"), 0, transform="square")


# ---------------------------------------------------------------------------------------------
# AUC interval: pROC 1.18.0 ci.auc default (DeLong SE, normal interval on the AUC scale, clipped)
# ---------------------------------------------------------------------------------------------
#   library(pROC); options(digits = 15)
#   r <- roc(y, s, levels = c(0, 1), direction = "<", quiet = TRUE)
#   c(auc(r), sqrt(var(r)), ci.auc(r)[c(1, 3)])
# ROC1: 36 continuous scores, cases every third row from the first (12 cases, 24 controls).
# ROC2: 30 integer grades 1-5 (many ties), cases the odd rows (index 1, 3, ...).
# ROC3: controls 0..9, cases 8.5..15.5 (AUC near 1: upper bound clipped to 1).
# HM: Hanley & McNeil (Radiology 1982) ratings, 58 normal and 51 abnormal (ties).
ROC1_SCORE = np.array([0.098, -1.324, -0.248, 1.320, 1.136, 0.110, 0.347, -0.785, 0.749, 2.535,
    0.273, -1.233, -0.058, 1.600, 0.203, -0.832, -0.084, -1.163, 0.271, -0.488, -0.713, 1.453,
    -0.063, -0.589, 1.310, 0.830, -1.643, 0.643, -0.981, -0.173, -0.389, 0.021, -0.038, 0.596,
    -1.048, -0.396])
ROC2_GRADE = np.array([2, 2, 3, 3, 4, 5, 1, 4, 2, 4, 3, 2, 3, 4, 4, 2, 4, 3, 3, 3, 5, 5, 5, 5, 4,
    5, 2, 4, 5, 3])
ROC1_LABEL = (np.arange(36) % 3 == 0).astype(int)
ROC2_LABEL = np.arange(30) % 2
ROC3_SCORE = np.r_[np.arange(10), np.arange(8) + 8.5].astype(float)
ROC3_LABEL = np.r_[np.zeros(10, int), np.ones(8, int)]
HM_SCORE = np.r_[np.repeat([1, 2, 3, 4, 5], [33, 6, 6, 11, 2]),
                 np.repeat([1, 2, 3, 4, 5], [3, 2, 2, 11, 33])].astype(float)
HM_LABEL = np.r_[np.zeros(58, int), np.ones(51, int)]

PROC_REFERENCE = {  # auc, se, lower, upper
    "ROC1": (0.767361111111111, 0.0840581356652762, 0.602610192599588, 0.932112029622634),
    "ROC2": (0.557777777777778, 0.10485229385825, 0.352271058119197, 0.763284497436359),
    "ROC3": (0.9875, 0.0176776695296637, 0.952852404391258, 1.0),
    "HM": (0.893171061528059, 0.0307244083793811, 0.832952327658172, 0.953389795397947),
}
ROC_DATA = {"ROC1": (ROC1_SCORE, ROC1_LABEL), "ROC2": (ROC2_GRADE.astype(float), ROC2_LABEL),
            "ROC3": (ROC3_SCORE, ROC3_LABEL), "HM": (HM_SCORE, HM_LABEL)}


@pytest.mark.parametrize("name", list(PROC_REFERENCE))
def test_auc_delong_interval_matches_proc(name):
    score, label = ROC_DATA[name]
    auc, se, lower, upper = stats.auc_delong(score, label)  # default ci="delong"
    ref = PROC_REFERENCE[name]
    assert auc == pytest.approx(ref[0], rel=1e-12)
    assert se == pytest.approx(ref[1], rel=1e-10)
    assert lower == pytest.approx(ref[2], rel=1e-10)
    assert upper == pytest.approx(ref[3], rel=1e-10)


def test_auc_delong_logit_interval_is_the_back_transformed_logit_interval():
    score, label = ROC_DATA["ROC1"]
    auc, se, lower, upper = stats.auc_delong(score, label, ci="delong_logit")
    # logit(0.767361...) ± 1.959964 · 0.0840581 / (0.767361 · 0.232639), back-transformed
    half = 1.959963984540054 * se / (auc * (1 - auc))
    centre = np.log(auc / (1 - auc))
    assert lower == pytest.approx(1 / (1 + np.exp(-(centre - half))), rel=1e-12)
    assert upper == pytest.approx(1 / (1 + np.exp(-(centre + half))), rel=1e-12)
    assert lower == pytest.approx(0.567237, abs=1e-6)
    assert upper == pytest.approx(0.892482, abs=1e-6)


def test_auc_delong_rejects_unknown_interval():
    with pytest.raises(ValueError, match="unknown AUC interval"):
        stats.auc_delong(ROC1_SCORE, ROC1_LABEL, ci="bootstrap")
