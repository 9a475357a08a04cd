"""Scoring kernels against gseapy, scipy and their published definitions."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy.stats import median_abs_deviation, rankdata, spearmanr

from her2atlas import score_methods as km
from her2atlas.scoring import concordance, score_cohort
from her2atlas.signatures import Signature


def _gseapy_gsva(frame, sets, kcdf):
    import gseapy

    res = gseapy.gsva(data=frame, gene_sets=sets, outdir=None, kcdf=kcdf, min_size=3, threads=1)
    table = res.res2d.pivot(index="Name", columns="Term", values="ES").astype(float)
    return table.loc[frame.columns, list(sets)].to_numpy()


@pytest.mark.parametrize("kernel", ["gaussian", "poisson"])
def test_gsva_equals_gseapy(kernel):
    rng = np.random.default_rng(12)
    n_genes, n = 250, 15
    if kernel == "gaussian":
        X = rng.normal(7, 2, size=(n, n_genes))
    else:
        X = rng.poisson(rng.uniform(2, 60, n_genes), size=(n, n_genes)).astype(float)
    genes = [f"G{i}" for i in range(n_genes)]
    sets = {"A": genes[:12], "B": genes[40:130:3], "C": genes[200:240]}
    idx = [np.array([genes.index(g) for g in v]) for v in sets.values()]
    frame = pd.DataFrame(X.T, index=genes, columns=[f"S{i}" for i in range(n)])
    ref = _gseapy_gsva(frame, sets, "Gaussian" if kernel == "gaussian" else "Poisson")
    mine = km.gsva(km.gsva_density(X, kernel=kernel), idx)
    np.testing.assert_allclose(mine, ref, atol=1e-10)


def test_gsva_walk_shortcut_equals_full_walk():
    """Max/min read at set positions equal the maxima of the full running sum."""
    rng = np.random.default_rng(1)
    density = rng.normal(size=(6, 120))
    idx = np.array([3, 17, 40, 41, 90, 110])
    fast = km.gsva(density, [idx])[:, 0]
    g, k = 120, len(idx)
    for s in range(6):
        order = np.argsort(-density[s], kind="stable")
        pos = np.empty(g, int)
        pos[order] = np.arange(1, g + 1)
        score = np.abs(g - pos + 1 - g / 2)
        member = np.isin(order, idx)
        step = np.where(member, score[order] / score[idx].sum(), -1 / (g - k))
        walk = np.cumsum(step)
        assert fast[s] == pytest.approx(max(walk.max(), 0) + min(walk.min(), 0), abs=1e-12)


def test_singscore_follows_the_published_definition():
    rng = np.random.default_rng(3)
    X = np.round(rng.normal(5, 2, size=(7, 300)), 1)  # ties, ranked with 'min' as in singscore
    up, down = np.arange(0, 30), np.arange(100, 125)
    ranks = km.ascending_ranks(X, ties="min")
    up_s, up_d = km.singscore(ranks, [up])
    dn_s, dn_d = km.singscore(ranks, [down])
    for s in range(7):
        r = rankdata(X[s], method="min")
        g, k = 300, 30
        norm_up = (r[up].mean() - (k + 1) / 2) / ((2 * g - k + 1) / 2 - (k + 1) / 2)
        assert up_s[s, 0] == pytest.approx(norm_up - 0.5, rel=1e-12)
        assert up_d[s, 0] == pytest.approx(
            median_abs_deviation(r[up], scale=1 / 1.4826), rel=1e-9)
        kd = len(down)
        norm_dn = (r[down].mean() - (kd + 1) / 2) / ((2 * g - kd + 1) / 2 - (kd + 1) / 2)
        total = (norm_up - 0.5) + ((1 - norm_dn) - 0.5)  # the reference's TotalScore
        assert up_s[s, 0] - dn_s[s, 0] == pytest.approx(total, rel=1e-12)
    # extremes: the top-k genes score +0.5, the bottom-k genes -0.5
    Y = np.arange(300, dtype=float)[None, :]
    top, _ = km.singscore(km.ascending_ranks(Y, ties="min"), [np.arange(270, 300)])
    bottom, _ = km.singscore(km.ascending_ranks(Y, ties="min"), [np.arange(30)])
    assert top[0, 0] == pytest.approx(0.5) and bottom[0, 0] == pytest.approx(-0.5)


def test_mrnasi_is_spearman_with_weights():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(9, 400))
    w = rng.normal(size=400)
    rho, index = km.mrnasi(X, w)
    expected = [spearmanr(X[s], w).statistic for s in range(9)]
    np.testing.assert_allclose(rho, expected, rtol=1e-12)
    assert index.min() == 0 and index.max() == 1
    np.testing.assert_allclose(index, (rho - rho.min()) / (rho.max() - rho.min()))


def test_combined_z_is_zmean_times_sqrt_k():
    rng = np.random.default_rng(6)
    Z = km.zscore_genes(rng.normal(size=(10, 50)))
    idx = [np.arange(16)]
    np.testing.assert_allclose(km.combined_z(Z, idx), km.zmean(Z, idx) * 4.0, rtol=1e-12)


def test_score_cohort_all_methods_up_down_weights_and_counts_layer():
    rng = np.random.default_rng(8)
    n, g = 20, 200
    counts = rng.poisson(rng.uniform(5, 80, g), size=(n, g)).astype(np.float32)
    logged = np.log2(counts / counts.sum(axis=1, keepdims=True) * 1e6 + 1).astype(np.float32)
    genes = [f"G{i}" for i in range(g)]
    adata = ad.AnnData(logged, obs=pd.DataFrame(index=[f"S{i}" for i in range(n)]),
                       var=pd.DataFrame(index=genes))
    adata.layers["counts"] = counts
    adata.uns["provenance"] = {"cohort": "toy"}
    sigs = [Signature("UPDN", genes[:10], down=genes[10:20]),
            Signature("W", list(genes), weights={x: float(i) for i, x in enumerate(genes)})]
    methods = ["zmean", "combined_z", "singscore", "ssgsea", "gsva", "mrnasi"]
    scores, cov = score_cohort(adata, sigs, methods=methods, min_coverage=0.5, min_genes=2)
    assert set(scores["method"]) == set(methods)
    assert set(scores.loc[scores.method == "mrnasi", "signature"]) == {"W"}
    assert set(scores.loc[scores.method != "mrnasi", "signature"]) == {"UPDN"}
    assert cov.set_index("signature").loc["UPDN", "genes_in_set"] == 20
    # Poisson kernel on the counts layer (gsva_kernel auto) vs forced Gaussian on log2
    gsva_auto = scores[scores.method == "gsva"]["score"].to_numpy()
    density = km.gsva_density(counts.astype(float), kernel="poisson")
    expected = (km.gsva(density, [np.arange(10)]) - km.gsva(density, [np.arange(10, 20)]))[:, 0]
    np.testing.assert_allclose(gsva_auto, expected, atol=1e-12)
    single = scores[scores.method == "singscore"]
    assert single["dispersion"].notna().all()
    mr = scores[scores.method == "mrnasi"]
    assert mr["scaled_index"].between(0, 1).all()
    conc = concordance(scores, cohort="toy")
    pair = conc[(conc.method_a == "combined_z") & (conc.method_b == "zmean")]
    assert pair["spearman_rho"].iloc[0] == pytest.approx(1.0)


def test_poisson_kernel_matches_scipy_over_a_wide_count_range():
    """The recurrence-based Poisson CDF sums equal scipy's, from 0 to millions of reads."""
    from scipy.stats import poisson

    rng = np.random.default_rng(9)
    X = np.concatenate([rng.poisson(rng.uniform(0, 5, 40), size=(60, 40)),
                        rng.poisson(rng.uniform(1, 5e4, 40), size=(60, 40)),
                        rng.poisson(rng.uniform(1, 3e6, 10), size=(60, 10))], axis=1)
    X = X.astype(float)
    cdf = poisson.cdf(X[:, None, :], X[None, :, :] + 0.5).mean(axis=1)
    expected = np.log(cdf / (1 - cdf))
    np.testing.assert_allclose(km.gsva_density(X, kernel="poisson"), expected, atol=1e-6)
