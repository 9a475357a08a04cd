"""Expression reading, units, symbols, duplicates and the probe-sum correction."""

from __future__ import annotations

import gzip
from pathlib import Path

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


def _string_path(path, **kwargs):
    """The reference: every cell read as a string and converted with pd.to_numeric."""
    options = {k: kwargs.pop(k, None) for k in ("delimiter", "sheet")}
    options["decimal"] = kwargs.pop("decimal", ".")
    return expression._read_via_strings(Path(path), options=options, **kwargs)


def _write_random(path, *, sep=",", decimal=".", gz=False, transpose=False):
    """A matrix of full-precision random values with NA spellings, in the given dialect."""
    rng = np.random.default_rng(7)
    cells = [[repr(float(v)) for v in row] for row in rng.normal(6, 3, size=(40, 6))]
    cells[0][1], cells[3][2], cells[5][0], cells[9][5] = "NA", "", "NaN", "nan"
    cells[11][3] = f"{rng.normal():.6e}"
    if decimal == ",":
        cells = [[c.replace(".", ",") for c in row] for row in cells]
    rows = [["gene", *[f"S{j}" for j in range(6)]]] + [[f"G{i}", *row] for i, row in
                                                       enumerate(cells)]
    if transpose:
        rows = [list(col) for col in zip(*rows, strict=True)]
        rows[0][0] = "sample"
    text = "\n".join(sep.join(r) for r in rows) + "\n"
    opener = gzip.open if gz else open
    with opener(path, "wt") as handle:
        handle.write(text)


@pytest.mark.parametrize("name, dialect, orientation", [
    ("plain.csv", {}, "genes_by_samples"),
    ("semi.csv", {"sep": ";", "decimal": ","}, "genes_by_samples"),
    ("tab.tsv.gz", {"sep": "\t", "gz": True}, "genes_by_samples"),
    ("wide.tsv.gz", {"sep": "\t", "gz": True, "transpose": True}, "samples_by_genes"),
    ("semi_wide.txt", {"sep": ";", "decimal": ",", "transpose": True}, "samples_by_genes"),
])
def test_numeric_fast_path_equals_string_path(tmp_path, name, dialect, orientation):
    path = tmp_path / name
    _write_random(path, **dialect)
    key = "sample" if orientation == "samples_by_genes" else "gene"
    decimal = dialect.get("decimal", ".")
    fast = expression._read_numeric(path, orientation=orientation, gene_column=key,
                                    drop_columns=None, delimiter=None, decimal=decimal)
    assert fast is not None  # the fast path did read it
    slow = _string_path(path, orientation=orientation, gene_column=key, drop_columns=None,
                        decimal=decimal)
    pd.testing.assert_frame_equal(fast, slow, check_exact=True)
    assert (fast.dtypes == np.float64).all() and fast.shape == (40, 6)
    assert fast.isna().to_numpy().sum() == 4  # the four NA spellings, nothing else
    via_api = expression.read_matrix(path, orientation=orientation, gene_column=key,
                                     decimal=decimal)
    pd.testing.assert_frame_equal(via_api, slow, check_exact=True)


def test_fast_path_keeps_na_gene_ids_and_drops_annotation_columns(tmp_path):
    path = tmp_path / "annot.tsv"
    path.write_text("gene\tdesc\tS1\tS2\nNA\tnot applicable\t1,25\tNA\nIL6\tx\t2,5\t3\n")
    with pytest.raises(Her2AtlasError, match="non-numeric expression value 'not applicable'"):
        expression.read_matrix(path, orientation="genes_by_samples", gene_column="gene")
    fast = expression._read_numeric(path, orientation="genes_by_samples", gene_column="gene",
                                    drop_columns=["desc"], delimiter=None, decimal=",")
    assert fast is not None and list(fast.index) == ["NA", "IL6"]
    assert fast.loc["IL6", "S1"] == 2.5 and np.isnan(fast.loc["NA", "S2"])
    slow = _string_path(path, orientation="genes_by_samples", gene_column="gene",
                        drop_columns=["desc"], decimal=",")
    pd.testing.assert_frame_equal(fast, slow, check_exact=True)
    # a '.' in a file declared decimal ',' stops the fast path; the string path still reads it
    path.write_text(path.read_text().replace("1,25", "1.25"))
    assert expression._read_numeric(path, orientation="genes_by_samples", gene_column="gene",
                                    drop_columns=["desc"], delimiter=None, decimal=",") is None
    mixed = expression.read_matrix(path, orientation="genes_by_samples", gene_column="gene",
                                   drop_columns=["desc"], decimal=",")
    assert mixed.loc["NA", "S1"] == 1.25 and mixed.loc["IL6", "S1"] == 2.5


def test_missing_gene_column_lists_all_columns_or_the_first_and_nearest(tmp_path):
    small = tmp_path / "small.csv"
    small.write_text("Gene_Symbol,S1,S2\nIL6,1,2\n")
    with pytest.raises(Her2AtlasError) as info:
        expression.read_matrix(small, orientation="genes_by_samples", gene_column="gene_symbol")
    assert info.value.field == "expression.gene_column"
    assert info.value.fix.endswith("did you mean 'Gene_Symbol'? columns are: 'Gene_Symbol', "
                                   "'S1', 'S2'")
    wide = tmp_path / "wide.tsv"
    genes = [f"GENE{i}" for i in range(3000)]
    wide.write_text("sample_id\t" + "\t".join(genes) + "\nS1\t" + "\t".join(["1"] * 3000) + "\n")
    with pytest.raises(Her2AtlasError) as info:
        expression.read_matrix(wide, orientation="samples_by_genes", gene_column="sampleid")
    fix = info.value.fix
    assert "did you mean 'sample_id'?" in fix
    assert "the file has 3001 columns" in fix
    assert "'GENE8'" in fix and "'GENE9'" not in fix  # the first ten: sample_id, GENE0..GENE8
    assert f"zcat -f '{wide}' | head -1" in fix  # how to list them all


def test_to_log2_in_place_arithmetic_is_exact_and_leaves_the_input_alone():
    rng = np.random.default_rng(3)
    counts = pd.DataFrame(rng.integers(0, 5000, size=(50, 4)).astype(float), columns=list("ABCD"))
    counts.iloc[2, 1] = np.nan
    before = counts.copy()
    out = expression.to_log2(counts, "counts")
    raw = before.to_numpy()
    expected = np.log2(raw / np.nansum(raw, axis=0) * 1e6 + 1.0)  # the formula, unfused
    np.testing.assert_array_equal(out.to_numpy(), expected)
    pd.testing.assert_frame_equal(counts, before)  # kept as the raw-counts companion
    tpm = expression.to_log2(counts, "tpm")
    np.testing.assert_array_equal(tpm.to_numpy(), np.log2(raw + 1.0))
    pd.testing.assert_frame_equal(counts, before)
