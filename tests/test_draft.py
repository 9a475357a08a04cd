"""`her2atlas draft` on the real GEO characteristics tables, a synthetic series matrix built from
them (served on 127.0.0.1 or found in a mirror), local files and small synthetic tables.

The drafted and the curated manifests are both applied to the real table with the pipeline's
own clinical step (``cohort.load_clinical``, table ``geo``) and their counts compared; the counts
are also pinned to the numbers in ../shared/data/GEO_sample_characteristics/PROVENANCE.md.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pandas as pd
import pytest

from her2atlas import clinical, draft, draft_fields, draft_therapy
from her2atlas.cli import main
from her2atlas.cohort import load_clinical
from her2atlas.draft_sources import RawSource
from her2atlas.manifest import load_manifest

from conftest import MANIFEST_SCHEMA, REPO, SHARED_DATA, needs_shared
from httpfixture import Server

CHARACTERISTICS = SHARED_DATA / "GEO_sample_characteristics"


def _clean(key: str) -> str:
    """janitor-style cleaning of a raw GEO key, as the shared tables' column names were made."""
    return re.sub(r"[^0-9a-z]+", "_", key.lower()).strip("_")


def _real_table(gse: str) -> pd.DataFrame:
    raw = clinical.read_table(CHARACTERISTICS / f"{gse}.tsv")
    table, _ = clinical.index_table(raw, id_column="Sample_ID")
    return table


def _obs(fields: dict, table: pd.DataFrame, *, clean: bool = False) -> pd.DataFrame:
    """The pipeline's clinical step on a characteristics table (as the `geo` table)."""
    if clean:
        fields = {k: {**v, "column": _clean(v["column"])} if "column" in v else v
                  for k, v in fields.items()}
    obs, _ = load_clinical({"fields": fields}, pd.Index(table.index), Path("."), "test",
                           extra_tables={"geo": table})
    return obs


def _draft_cli(tmp_path: Path, *args: str, out: str = "draft.yaml") -> dict:
    path = tmp_path / out
    assert main(["draft", *args, "--out", str(path), "--schema", str(MANIFEST_SCHEMA)]) == 0
    return load_manifest(path, MANIFEST_SCHEMA)


def _headline(obs: pd.DataFrame) -> dict:
    counts = clinical.count_summary(obs)
    keys = ("samples", "her2_positive", "trastuzumab", "pcr_events", "her2_positive_pcr_events")
    out = {k: counts[k] for k in keys if k in counts}
    if "arm" in obs:
        out["arms"] = obs["arm"].value_counts().to_dict()
    return out


NOAH_COUNTS = {"samples": 156, "her2_positive": 114, "trastuzumab": 63, "pcr_events": 53,
               "her2_positive_pcr_events": 44,
               "arms": {"HER2+ CT H": 63, "HER2+ CT": 51, "HER2- CT": 42}}
GSE20194_ARMS = {"TFAC": 210, "TFEC": 33, "TXFAC": 9, "TH/FAC": 6, "FAC": 3, "TH/FEC": 2,
                 "FECT": 2, "Tonly": 1, "FEC": 1, "TFAC/HT": 1, "FACT": 1, "FACT+XRT/X": 1}
GSE20194_COUNTS = {"samples": 278, "her2_positive": 59, "trastuzumab": 8, "pcr_events": 56,
                   "her2_positive_pcr_events": 22, "arms": GSE20194_ARMS}


@needs_shared
@pytest.mark.parametrize("cohort, gse, pinned", [("gse50948_noah", "GSE50948", NOAH_COUNTS),
                                                 ("gse20194", "GSE20194", GSE20194_COUNTS)])
def test_draft_reproduces_the_curated_counts(tmp_path, cohort, gse, pinned):
    drafted = _draft_cli(tmp_path, "--characteristics", str(CHARACTERISTICS / f"{gse}.tsv"),
                         out=f"{cohort}.yaml")
    curated = load_manifest(REPO / f"workflow/cohorts/{cohort}.yaml", MANIFEST_SCHEMA)
    table = _real_table(gse)
    mine = _headline(_obs(drafted["clinical"]["fields"], table))
    theirs = _headline(_obs(curated["clinical"]["fields"], table, clean=True))
    assert mine == pinned
    assert theirs == pinned
    for key, value in curated["expected"].items():
        assert drafted["expected"][key] == value, key
    assert drafted["design"] == curated["design"]
    assert drafted.get("treatment_era") == curated.get("treatment_era")


@needs_shared
def test_gse20194_ambiguous_treatment_code_is_listed_not_decided(tmp_path):
    drafted = _draft_cli(tmp_path, "--characteristics", str(CHARACTERISTICS / "GSE20194.tsv"),
                         out="gse20194.yaml")
    spec = drafted["clinical"]["fields"]["trastuzumab"]
    assert spec["column"] == "treatment_code"
    assert spec["map"]["TFAC/HT"] is None  # HT: hormone therapy or Herceptin? not decided
    assert spec["map"]["TH/FAC"] is True and spec["map"]["TFAC"] is False
    assert "REVIEW trastuzumab: mapped to null (unknown) until decided: 'TFAC/HT' (1)" in \
        drafted["unverified"]
    text = (tmp_path / "gse20194.yaml").read_text()
    assert "    # REVIEW: mapped to null (unknown) until decided: 'TFAC/HT' (1)" in text


@needs_shared
def test_gse58984_draft_finds_its_survival_fields_in_days(tmp_path):
    drafted = _draft_cli(tmp_path, "--characteristics", str(CHARACTERISTICS / "GSE58984.tsv"),
                         out="gse58984.yaml")
    fields = drafted["clinical"]["fields"]
    assert fields["dmfs_time"] == {"table": "geo", "column": "time_to_ddfs", "unit": "days"}
    assert fields["dmfs_event"] == {"table": "geo", "column": "distant_metastasis"}
    assert drafted["endpoints"] == {"survival": ["dmfs"]}
    assert "median 1730.5 (range 201-3729) is above 240" in drafted["unverified"]
    table = _real_table("GSE58984")
    obs = _obs(fields, table)
    assert clinical.count_summary(obs)["dmfs_events"] == 11
    assert len(obs) == 94
    days = pd.to_numeric(table["time_to_ddfs"]).to_numpy()
    assert obs["dmfs_time"].to_numpy() == pytest.approx(days / 30.4375, rel=1e-12)
    curated = load_manifest(REPO / "workflow/cohorts/gse58984.yaml", MANIFEST_SCHEMA)
    for key, value in curated["expected"].items():
        assert drafted["expected"][key] == value, key
    assert drafted["design"] == "trastuzumab_treated"


@needs_shared
def test_gse58644_draft_validates_and_names_its_endpoint_a_placeholder(tmp_path):
    drafted = _draft_cli(tmp_path, "--characteristics", str(CHARACTERISTICS / "GSE58644.tsv"),
                         out="gse58644.yaml")
    assert drafted["expected"]["her2_positive"] == 58
    assert drafted["expected"]["trastuzumab"] == 12
    assert drafted["expected"]["efs_events"] == 69
    assert drafted["clinical"]["fields"]["efs_time"]["unit"] == "months"
    assert "efs is a placeholder" in drafted["unverified"]


# --- the GEO path: a synthetic series matrix built from the real NOAH table -------------------

def series_matrix_from_table(table: pd.DataFrame, gse: str, gpl: str) -> str:
    """A series matrix whose characteristics are the table's columns (keys with spaces)."""
    q = lambda values: "\t".join(f'"{v}"' for v in values)  # noqa: E731
    ids = list(table.index)
    lines = [f'!Series_title\t"{gse} FIXTURE built from the characteristics table"',
             f'!Series_geo_accession\t"{gse}"', f'!Series_platform_id\t"{gpl}"',
             '!Series_contributor\t"Belousov,,A"\t"Prat,,A"', '!Series_pubmed_id\t"24443618"',
             f"!Sample_title\t{q(ids)}", f"!Sample_geo_accession\t{q(ids)}",
             f"!Sample_platform_id\t{q([gpl] * len(ids))}"]
    for column in table.columns.drop(["Dataset_ID", "Platform_ID"]):
        key = column.replace("_", " ")
        lines.append(f"!Sample_characteristics_ch1\t{q(f'{key}: {v}' for v in table[column])}")
    lines += ["!series_matrix_table_begin", "\t".join(['"ID_REF"'] + [f'"{s}"' for s in ids])]
    lines += [f'"{p}_at"\t' + "\t".join(["7.5"] * len(ids)) for p in range(50)]
    lines.append("!series_matrix_table_end")
    return "\n".join(lines) + "\n"


MATRIX_PATH = "geo/series/GSE50nnn/GSE50948/matrix/GSE50948_series_matrix.txt.gz"


@needs_shared
def test_geo_accession_downloads_the_matrix_and_reproduces_noah(tmp_path):
    table = _real_table("GSE50948")
    body = gzip.compress(series_matrix_from_table(table, "GSE50948", "GPL570").encode(), mtime=0)
    with Server() as server:
        route = server.add(f"/{MATRIX_PATH}", body)
        drafted = _draft_cli(tmp_path, "GSE50948", "--geo-url", server.url,
                             "--raw-dir", str(tmp_path / "raw"), out="gse50948.yaml")
    assert route.requests == 1
    assert (tmp_path / "raw/GSE50948_series_matrix.txt.gz").read_bytes() == body
    assert drafted["geo"]["series"] == "GSE50948" and drafted["platform"] == "GPL570"
    assert drafted["title"] == "GSE50948 FIXTURE built from the characteristics table"
    assert drafted["citation"] == "Belousov,,A, Prat,,A. GEO GSE50948; PubMed 24443618"
    raw_keys = table.rename(columns=lambda c: c.replace("_", " "))
    assert _headline(_obs(drafted["clinical"]["fields"], raw_keys)) == NOAH_COUNTS
    for key, value in NOAH_COUNTS.items():
        if key != "arms":
            assert drafted["expected"][key] == value


@needs_shared
def test_geo_accession_reads_a_mirror_first(tmp_path):
    table = _real_table("GSE20194")
    mirror = tmp_path / "mirror"
    path = mirror / "geo/series/GSE20nnn/GSE20194/matrix/GSE20194_series_matrix.txt.gz"
    path.parent.mkdir(parents=True)
    path.write_bytes(gzip.compress(series_matrix_from_table(table, "GSE20194", "GPL96").encode()))
    drafted = _draft_cli(tmp_path, "GSE20194", "--data-root", str(mirror), "--offline",
                         "--raw-dir", str(tmp_path / "raw"), out="gse20194.yaml")
    assert not (tmp_path / "raw").exists()  # read in place, nothing downloaded
    assert drafted["clinical"]["fields"]["her2_status"]["column"] == "her2 status"
    assert drafted["expected"]["her2_positive"] == 59
    assert drafted["expected"]["her2_positive_pcr_events"] == 22


def test_multi_platform_series_lists_its_matrices(tmp_path, capsys):
    listing = (b'<a href="GSE99001-GPL96_series_matrix.txt.gz">a</a>'
               b'<a href="GSE99001-GPL97_series_matrix.txt.gz">b</a>')
    with Server() as server:
        server.add("/geo/series/GSE99nnn/GSE99001/matrix/GSE99001_series_matrix.txt.gz", b"",
                   plan=["status:404"])
        server.add("/geo/series/GSE99nnn/GSE99001/matrix/", listing)
        code = main(["draft", "GSE99001", "--geo-url", server.url, "--raw-dir",
                     str(tmp_path / "raw"), "--out", str(tmp_path / "x.yaml")])
    err = capsys.readouterr().err
    assert code == 1
    assert ("GSE99001 has one series matrix per platform: GSE99001-GPL96_series_matrix.txt.gz, "
            "GSE99001-GPL97_series_matrix.txt.gz") in err
    assert "--platform GPLxxx" in err


def test_offline_without_mirror_names_the_path_and_the_alternatives(tmp_path, capsys):
    code = main(["draft", "GSE12345", "--offline", "--data-root", str(tmp_path),
                 "--out", str(tmp_path / "x.yaml")])
    err = capsys.readouterr().err
    assert code == 1
    assert "geo/series/GSE12nnn/GSE12345/matrix/GSE12345_series_matrix.txt.gz is under no data root" in err
    assert "--characteristics TABLE" in err


# --- local files (the demo cohorts) --------------------------------------------------------

@pytest.mark.parametrize("cohort, design, units", [
    ("demo_randomised_f", "randomised_trastuzumab", "log2"),
    ("demo_three_arm_g", "multi_arm_anti_her2", "log2"),
    ("demo_neoadjuvant_a", "trastuzumab_treated", "counts"),
    ("demo_adjuvant_c", "trastuzumab_treated", "log2"),
])
def test_local_files_draft_matches_the_demo_manifest(tmp_path, demo_dir, cohort, design, units):
    folder = demo_dir / cohort
    drafted = _draft_cli(tmp_path, "--expression", str(folder / "expression.tsv.gz"),
                         "--clinical", str(folder / "clinical.tsv"), "--data-root",
                         str(demo_dir), out=f"{cohort}.yaml")
    curated = load_manifest(REPO / f"workflow/cohorts/{cohort}.yaml", MANIFEST_SCHEMA)
    assert drafted["design"] == design == curated["design"]
    assert drafted["arms"] == curated["arms"] if "arms" in curated else "arms" not in drafted
    assert drafted["expression"]["units"] == units
    assert drafted["expression"]["gene_column"] == "gene"
    assert drafted["clinical"]["tables"] == {"clinical": {"file": "clinical.tsv",
                                                          "id_column": "sample_id"}}
    assert [f["path"] for f in drafted["files"]] == [f"{cohort}/expression.tsv.gz",
                                                    f"{cohort}/clinical.tsv"]
    for key, value in curated["expected"].items():
        assert drafted["expected"][key] == value, key


# --- vocabularies and ambiguity on small tables ---------------------------------------------

def _source(columns: dict[str, list[str]]) -> RawSource:
    n = len(next(iter(columns.values())))
    table = pd.DataFrame(columns, index=[f"GSM{i}" for i in range(n)], dtype=object)
    return RawSource(table, list(table.columns), "geo", pd.Index(table.index),
                     {"title": "t", "citation": "c", "source": {"kind": "geo"},
                      "geo": {"series": "GSE1", "platform": "GPL1"}, "expression": {"units": "auto"}},
                     "test")


def test_ambiguous_values_are_mapped_to_null_and_listed():
    src = _source({
        "her2 ihc": ["3+", "0", "1+", "2+", "2+", "equivocal", "3+", "0"],
        "response": ["pCR", "RD", "near complete response", "RD", "pCR", "RD", "RD", "NA"],
    })
    d = draft.draft_manifest(src, "x")
    fields = d.manifest["clinical"]["fields"]
    assert fields["her2_status"]["map"] == {"3+": "positive", "0": "negative", "2+": None,
                                            "1+": "negative", "equivocal": None}
    assert fields["pcr"]["map"] == {"RD": 0, "pCR": 1, "near complete response": None}
    notes = d.manifest["unverified"]
    assert "REVIEW her2_status: mapped to null (unknown) until decided: '2+' (2), 'equivocal' (1)" \
        in notes
    assert "REVIEW pcr: mapped to null (unknown) until decided: 'near complete response' (1)" in notes
    assert d.manifest["expected"]["her2_positive"] == 2
    assert d.manifest["expected"]["pcr_labelled"] == 6  # NA missing, near-complete unknown


def test_codes_in_keys_decide_the_direction_of_0_1():
    src = _source({
        "her2 (0 = negative; 1 = positive)": ["1", "0", "1", "1"],
        "pcr (1=yes)": ["1", "0", "0", "1"],
        "response": ["1", "0", "1", "1"],  # 0/1 under a key that does not name pCR: not used
    })
    fields = draft.draft_manifest(src, "x").manifest["clinical"]["fields"]
    assert fields["her2_status"]["map"] == {"1": "positive", "0": "negative"}
    assert fields["pcr"] == {"table": "geo", "column": "pcr (1=yes)", "map": {"1": 1, "0": 0}}


def test_survival_units_from_key_or_median():
    months = [str(v) for v in (12, 30, 45, 60, 75, 90)]
    src = _source({"os months": months, "os event": ["1", "0", "0", "1", "0", "0"],
                   "rfs time": ["300", "800", "1200", "1500", "2000", "2500"],
                   "relapse": ["yes", "no", "no", "yes", "no", "no"]})
    d = draft.draft_manifest(src, "x")
    fields = d.manifest["clinical"]["fields"]
    assert fields["os_time"]["unit"] == "months"
    assert fields["rfs_time"]["unit"] == "days"
    assert fields["rfs_event"]["map"] == {"no": 0, "yes": 1}
    assert "os_event" in fields and "map" not in fields["os_event"]
    assert d.manifest["endpoints"]["survival"] == ["rfs", "os"]
    assert "the key 'os months' names months" in d.manifest["unverified"]
    assert "median 1350 (range 300-2500) is above 240" in d.manifest["unverified"]


def test_a_time_without_its_event_is_not_declared():
    src = _source({"time to relapse": ["100", "200", "300", "400", "500", "600"]})
    fields = draft.draft_manifest(src, "x").manifest["clinical"]["fields"]
    assert not any(k.endswith(("_time", "_event")) for k in fields)


@pytest.mark.parametrize("value, agents, ambiguous", [
    ("TH/FAC", ["trastuzumab"], False),
    ("TFAC/HT", [], True),
    ("HER2+ CT H", ["trastuzumab"], False),
    ("HER2+ CT", [], False),
    ("FEC/TX+H", ["trastuzumab"], False),
    ("TCTy", ["lapatinib"], False),
    ("TCHTy", ["trastuzumab", "lapatinib"], False),
    ("chemotherapy+trastuzumab+lapatinib", ["trastuzumab", "lapatinib"], False),
    ("(docetaxel-Capecitabine)+ Trastuzumab", ["trastuzumab"], False),
    ("Taxol x 12 FAC x 4", [], False),
])
def test_agents_named_by_words_and_regimen_codes(value, agents, ambiguous):
    found, _, unsure = draft_therapy.agents_in(value)
    assert found == agents
    assert unsure is ambiguous


def test_every_key_is_tallied_in_the_written_file(tmp_path):
    src = _source({"her2": ["HER2+", "HER2-", "HER2+"], "site": ["a", "b", "NA"],
                   "notes": ["x: y", "z", "z"]})
    d = draft.draft_manifest(src, "x")
    lines = [t.describe() for t in d.tallies]
    assert lines == ["her2 (2 distinct, 0 missing): 'HER2+' 2; 'HER2-' 1",
                     "site (2 distinct, 1 missing): 'a' 1; 'b' 1",
                     "notes (2 distinct, 0 missing): 'z' 2; 'x: y' 1"]
    assert draft_fields.tally(src.table, ["site"])[0].missing == 1


def test_cli_refuses_to_overwrite_and_half_a_files_pair(tmp_path, capsys):
    table = tmp_path / "GSE1.tsv"
    table.write_text("Dataset_ID\tSample_ID\tPlatform_ID\ther2\n"
                     "GSE1\tGSM1\tGPL1\tHER2+\nGSE1\tGSM2\tGPL1\tHER2-\n")
    existing = tmp_path / "x.yaml"
    existing.write_text("keep\n")
    assert main(["draft", "--characteristics", str(table), "--out", str(existing)]) == 1
    assert f"{existing}: {existing} exists" in capsys.readouterr().err
    assert main(["draft", "--expression", "e.tsv", "--out", str(existing)]) == 1
    assert "--expression and --clinical go together" in capsys.readouterr().err
    assert main(["draft", "notanaccession", "--out", str(existing)]) == 1
    assert "'notanaccession' is not a GEO series accession" in capsys.readouterr().err
    assert existing.read_text() == "keep\n"
    assert main(["draft", "--characteristics", str(table), "--out", str(existing), "--force",
                 "--schema", str(MANIFEST_SCHEMA)]) == 0
    assert load_manifest(existing, MANIFEST_SCHEMA)["expected"] == {"samples": 2,
                                                                   "her2_positive": 1}


def test_geo_fixture_traps_key_with_colon_missing_codes_and_mixed_rows(tmp_path):
    """The series-matrix fixture of test_geo (GSE42822-style keys) read from a mirror."""
    import geo_fixtures as fx

    path = tmp_path / "mirror/geo/series/GSE99nnn/GSE99001/matrix/GSE99001_series_matrix.txt.gz"
    path.parent.mkdir(parents=True)
    path.write_bytes(fx.gz(fx.series_matrix_text()))
    drafted = _draft_cli(tmp_path, "GSE99001", "--data-root", str(tmp_path / "mirror"),
                         "--offline", out="gse99001.yaml")
    fields = drafted["clinical"]["fields"]
    assert fields["her2_status"] == {"table": "geo",
                                     "column": "her2.status (1: positive, 0: negative)",
                                     "map": {"1": "positive", "0": "negative"}}
    assert fields["trastuzumab"]["map"] == {"FEC/TX+H": True, "FEC/TX": False}
    assert fields["pcr"]["map"] == {"RD": 0, "pCR": 1}
    assert fields["timepoint"]["map"] == {"baseline": "baseline"}
    assert drafted["platform"] == fx.GPL
    assert drafted["expected"] == {"samples": 12, "her2_positive": 10, "trastuzumab": 8,
                                   "pcr_labelled": 11, "pcr_events": 5,
                                   "her2_positive_pcr_events": 4}
    # 8 of 10 HER2+ treated but no arm key: not read as a randomised contrast
    assert drafted["design"] == "not_trastuzumab_treated"
    assert drafted["treatment_era"] == "mixed"


def test_timepoints_pam50_and_repeated_patients():
    src = _source({
        "patient": ["p1", "p1", "p2", "p2", "p3", "p3"],
        "timepoint": ["baseline", "post", "baseline", "post", "baseline", "surgery"],
        "pam50 subtype": ["Luminal A", "LumB", "HER2-enriched", "Basal-like", "Normal-like", "?"],
    })
    d = draft.draft_manifest(src, "x")
    fields = d.manifest["clinical"]["fields"]
    assert fields["patient_id"] == {"table": "geo", "column": "patient"}
    assert fields["timepoint"]["map"] == {"baseline": "baseline", "post": None,
                                          "surgery": "surgery"}
    assert fields["pam50"]["map"] == {"Basal-like": "Basal", "HER2-enriched": "Her2",
                                      "LumB": "LumB", "Luminal A": "LumA",
                                      "Normal-like": "Normal"}
    assert d.manifest["sample_filter"] == {"timepoint": ["baseline"]}
    assert d.manifest["expected"] == {"samples": 3}  # the baseline samples
    notes = d.manifest["unverified"]
    assert "REVIEW timepoint: mapped to null (unknown) until decided: 'post' (2)" in notes
    assert "patient_id repeats across samples: declare a replicates rule" in notes


def test_drafted_manifests_pass_the_cohort_step(tmp_path, demo_dir):
    """Files and GEO drafts build with cohort.build_cohort, whose count check uses `expected:`."""
    import geo_fixtures as fx

    from her2atlas.cohort import build_cohort

    folder = demo_dir / "demo_randomised_f"
    _draft_cli(tmp_path, "--expression", str(folder / "expression.tsv.gz"), "--clinical",
               str(folder / "clinical.tsv"), "--data-root", str(demo_dir), out="demo_f.yaml")
    manifest = load_manifest(tmp_path / "demo_f.yaml", MANIFEST_SCHEMA)
    adata = build_cohort(manifest, folder, manifest_file="demo_f.yaml")
    assert adata.n_obs == 260
    assert dict(adata.uns["counts"]) == manifest["expected"]

    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "GSE99001_series_matrix.txt.gz").write_bytes(fx.gz(fx.series_matrix_text()))
    (raw / f"{fx.GPL}.annot.gz").write_bytes(fx.gz(fx.annot_text()))
    _draft_cli(tmp_path, "GSE99001", "--raw-dir", str(raw), "--offline", "--data-root",
               str(tmp_path / "none"), out="gse99001.yaml")
    manifest = load_manifest(tmp_path / "gse99001.yaml", MANIFEST_SCHEMA)
    adata = build_cohort(manifest, raw, manifest_file="gse99001.yaml")
    assert adata.n_obs == fx.N_SAMPLES
    assert dict(adata.uns["counts"]) == manifest["expected"]
    assert manifest["expected"]["her2_positive"] == 10


def test_series_text_is_quoted_not_applied():
    src = _source({"pcr": ["pCR", "RD", "RD"]})
    src.series_text = "Trastuzumab-based therapy in HER2-positive breast cancer"
    d = draft.draft_manifest(src, "x")
    assert set(d.manifest["clinical"]["fields"]) == {"pcr"}
    assert d.manifest["design"] == "treatment_unrecorded"
    notes = d.manifest["unverified"]
    assert "the series title/summary mentions trastuzumab but no key records it" in notes
    assert "the series title/summary mentions HER2-positive tumours" in notes
