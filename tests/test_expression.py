"""Expression reading, units, symbols, duplicates and the probe-sum correction."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from her2atlas import expression, platform
from her2atlas.errors import Her2AtlasError

from conftest import SHARED_DATA, needs_shared


def test_counts_to_log2_cpm():
    counts = pd.DataFrame({"S1": [10, 90, 0], "S2": [50, 50, 100]}, index=["A", "B", "C"])
    out = expression.to_log2(counts, "counts")
    assert out.loc["A", "S1"] == pytest.approx(np.log2(10 / 100 * 1e6 + 1))
    assert out.loc["C", "S2"] == pytest.approx(np.log2(100 / 200 * 1e6 + 1))


@pytest.mark.parametrize("units", ["fpkm", "tpm"])
def test_linear_units_to_log2(units):
    frame = pd.DataFrame({"S1": [0.0, 3.0]}, index=["A", "B"])
    np.testing.assert_allclose(expression.to_log2(frame, units)["S1"], [0.0, 2.0])


def test_negative_counts_and_unlogged_log2_are_refused():
    with pytest.raises(Her2AtlasError, match="negative values"):
        expression.to_log2(pd.DataFrame({"S": [-1.0, 2.0]}), "counts")
    with pytest.raises(Her2AtlasError, match="look unlogged"):
        expression.to_log2(pd.DataFrame({"S": [5.0, 20000.0]}), "log2")


def test_symbols_normalised_and_duplicates_collapsed_by_highest_mean():
    frame = pd.DataFrame({"S1": [1.0, 5.0, 2.0], "S2": [1.0, 7.0, 2.0]},
                         index=expression.normalise_symbols([" stat3", "STAT3 ", "Il6"]))
    out, removed = expression.collapse_duplicates(frame, "highest_mean")
    assert removed == 1
    assert list(out.index) == ["STAT3", "IL6"]
    assert out.loc["STAT3"].tolist() == [5.0, 7.0]
    mean, _ = expression.collapse_duplicates(frame, "mean")
    assert mean.loc["STAT3"].tolist() == [3.0, 4.0]


def test_read_matrix_orientation_and_non_numeric(tmp_path):
    path = tmp_path / "x.tsv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write("sample\tIL6\tSTAT3\nS1\t1.5\t2\nS2\t3\t4\n")
    m = expression.read_matrix(path, orientation="samples_by_genes", gene_column="sample")
    assert m.loc["STAT3", "S2"] == 4.0 and list(m.columns) == ["S1", "S2"]
    bad = tmp_path / "bad.csv"
    bad.write_text("gene,S1,S2\nIL6,1.0,high\n")
    with pytest.raises(Her2AtlasError, match="non-numeric expression value 'high'"):
        expression.read_matrix(bad, orientation="genes_by_samples", gene_column="gene")


def test_probe_sum_correction_divides_by_probe_count():
    frame = pd.DataFrame({"S1": [12.0, 6.0, 30.0, 40.0]}, index=["A", "B", "C", "UNKNOWN"])
    counts = [pd.Series({"A": 2, "C": 5}), pd.Series({"B": 1, "C": 9})]
    out, summary = expression.correct_probe_sums(frame, counts, max_single_probe=16)
    assert out.loc["A", "S1"] == 6.0 and out.loc["B", "S1"] == 6.0
    assert out.loc["C", "S1"] == 6.0  # first source wins
    assert "UNKNOWN" not in out.index  # 40 > 16 with no probe count: dropped
    assert summary["genes_dropped_uncorrectable"] == 1
    assert summary["genes_matched_per_source"] == [2, 1]


@needs_shared
def test_gse42822_probe_sums_restored_to_per_probe_scale():
    """After correction, median per-probe values of 1-, 2- and 3-probe genes are all ≈ 5.9."""
    raw = expression.read_matrix(
        SHARED_DATA / "GSE42822_trastuzumab_ENLIGHT/ENLIGHT_Trastuzumab_4_expression.csv.gz",
        orientation="genes_by_samples", gene_column="index")
    raw.index = expression.normalise_symbols(raw.index)
    raw, _ = expression.collapse_duplicates(raw, "highest_mean")  # as the cohort stage does
    bioc = platform.read_probe_map_tsv(
        SHARED_DATA / "GPL_annotation/bioc_probe2symbol_human.tsv.gz", platform="GPL96")
    soft = platform.read_soft_platform(SHARED_DATA / "GPL_annotation/GPL96.txt.gz")
    counts = [platform.probes_per_gene(bioc), platform.probes_per_gene(soft)]
    out, summary = expression.correct_probe_sums(raw, counts, max_single_probe=16)
    n = platform.probes_per_gene(bioc)
    n.index = expression.normalise_symbols(n.index)
    medians = out.median(axis=1)
    for k in (1, 2, 3):
        genes = n[n == k].index.intersection(out.index)
        assert abs(medians[genes].median() - 5.9) < 0.25, k
    before = raw.median(axis=1)
    two = n[n == 2].index.intersection(raw.index)
    assert before[two].median() > 10  # the uncorrected sums sit ~2x higher
    assert out.max().max() <= 16
    assert summary["genes_matched_per_source"][0] == 11985


@needs_shared
def test_soft_platform_parser_on_real_gpl96():
    table = platform.read_soft_platform(SHARED_DATA / "GPL_annotation/GPL96.txt.gz")
    assert table.shape == (22283, 16)
    assert table["ID"].is_unique
    mapping = platform.probe_to_symbol(table, multi="drop")
    assert mapping["205207_at"] == "IL6" and mapping["208991_at"] == "STAT3"
    assert mapping["205225_at"] == "ESR1"
    assert (table["Gene Symbol"].str.contains("///")).sum() == 862
