"""``her2atlas draft``: a draft cohort manifest from a GEO series or local tables.

The draft tallies every raw key, proposes the standard fields from the curated synonym table
(:mod:`her2atlas.field_synonyms`), a value map for each, the design tag, survival units and the
``expected:`` counts (computed with the pipeline's own clinical mapping), and lists every guess
under ``unverified:``. Ambiguous values are mapped to null (unknown) and listed for review.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import clinical, draft_fields, draft_survival, draft_therapy
from . import field_synonyms as syn
from .draft_fields import KeyTally, Proposal
from .draft_sources import RawSource
from .errors import Her2AtlasError

#: Share of HER2+ patients given trastuzumab above which pure arms read as a randomised contrast.
RANDOMISED_MIN_SHARE = 0.25


@dataclass
class Draft:
    """A drafted manifest, the proposals behind it and the tally of every key."""

    manifest: dict
    proposals: list[Proposal]
    tallies: list[KeyTally]
    unverified: list[str] = field(default_factory=list)
    label: str = ""


def _constant_her2(tallies: list[KeyTally]) -> Proposal | None:
    """``her2_status: {value: positive}`` when one key has a single value naming HER2+ tumours."""
    for t in tallies:
        if len(t.counts) != 1 or t.missing:
            continue
        value = next(iter(t.counts))
        low = value.lower()
        if re.search(r"her2|erbb2", low) and not re.search(r"neg|her2\s*-(?!\w)|-\s*negative", low):
            why = f"her2_status = positive for all: every sample's {t.key!r} is {value!r}"
            return Proposal("her2_status", {"value": "positive"}, why, key=t.key,
                            guesses=[f"her2_status: all positive, read from {t.key!r} = {value!r}"])
    return None


def propose_fields(tallies: list[KeyTally], table_name: str) -> tuple[list[Proposal], KeyTally | None]:
    """Every standard field the keys support, plus the column that names the treatment."""
    out: list[Proposal] = []
    status = draft_fields.status_classifier
    for name in ("her2_status", "er_status", "pr_status"):
        found = draft_fields.best_mapped(name, tallies, table_name, status)
        if found is None and name == "her2_status":
            found = _constant_her2(tallies)
        out.append(found)
    out.append(draft_fields.text_field("patient_id", tallies, table_name, min_distinct=2))
    out.append(draft_fields.best_mapped("pam50", tallies, table_name,
                                        draft_fields.vocabulary_classifier(syn.PAM50, set())))
    treated = draft_therapy.trastuzumab_field(tallies, table_name)
    source = treated[1] if treated else None
    out.append(draft_therapy.arm_field(tallies, table_name))
    out.append(treated[0] if treated else None)
    out.append(draft_therapy.anti_her2_field(source, table_name) if source else None)
    out.append(draft_fields.best_mapped(
        "timepoint", tallies, table_name,
        draft_fields.vocabulary_classifier(syn.TIMEPOINTS, syn.TIMEPOINT_AMBIGUOUS)))
    out.append(draft_fields.best_mapped("pcr", tallies, table_name, draft_fields.pcr_classifier))
    out.append(draft_fields.text_field("rcb", tallies, table_name, max_distinct=10))
    out += draft_survival.survival_fields(tallies, table_name)
    return [p for p in out if p is not None], source


def harmonise(fields: dict, source: RawSource, sample_filter: dict | None = None) -> pd.DataFrame:
    """The pipeline's clinical step on the source table: ``obs`` for the fields (and filter)."""
    from .cohort import apply_sample_filter, load_clinical

    obs, _ = load_clinical({"fields": fields}, source.samples, Path("."), "draft",
                           extra_tables={source.table_name: source.table})
    if sample_filter:
        obs = obs[apply_sample_filter(obs, sample_filter, "draft")]
    return obs


def _arms_pure(obs: pd.DataFrame) -> bool:
    """Each arm either all trastuzumab or all not (missing calls ignored)."""
    calls = obs[["arm", "trastuzumab"]].dropna()
    return bool(len(calls)) and bool((calls.groupby("arm")["trastuzumab"].nunique() == 1).all())


def _multi_arm(obs: pd.DataFrame) -> dict:
    arms = obs[["arm", "anti_her2"]].dropna().groupby("arm")["anti_her2"].agg(
        lambda s: s.mode().iat[0])
    treated = sorted(a for a, agents in arms.items() if "trastuzumab" in agents.split("+"))
    alone = [a for a in treated if arms[a] == "trastuzumab"] or treated
    return {"reference": alone[0], "trastuzumab": treated}


def propose_design(obs: pd.DataFrame, source: KeyTally | None) -> tuple[dict, list[str]]:
    """Design tag (+ era, arms) from who received trastuzumab among HER2+ samples, with reasons."""
    if "trastuzumab" not in obs:
        return {"design": "treatment_unrecorded"}, [
            "design treatment_unrecorded: no key names trastuzumab; if the series summary "
            "says all patients received it, set trastuzumab: {value: true} and trastuzumab_treated"]
    her2 = obs["her2_status"] == "positive" if "her2_status" in obs else pd.Series(True, obs.index)
    calls = obs.loc[her2, "trastuzumab"].dropna().astype(bool)
    n, given = len(calls), int(calls.sum())
    said = f"{given} of {n} HER2+ samples with a call received trastuzumab"
    if n == 0 or given == 0:
        return {"design": "not_trastuzumab_treated"}, [f"design not_trastuzumab_treated: {said}"]
    if given == n:
        return {"design": "trastuzumab_treated"}, [f"design trastuzumab_treated: {said}"]
    others = draft_therapy.other_agents(source) if source is not None else set()
    if others and "arm" in obs and "anti_her2" in obs:
        arms = _multi_arm(obs)
        return {"design": "multi_arm_anti_her2", "arms": arms}, [
            f"design multi_arm_anti_her2: arms also give {sorted(others)}; reference arm "
            f"{arms['reference']!r} (trastuzumab alone) - check against the trial"]
    if "arm" in obs and _arms_pure(obs) and given / n >= RANDOMISED_MIN_SHARE:
        return {"design": "randomised_trastuzumab"}, [
            f"design randomised_trastuzumab: {said}, and each arm is all or none trastuzumab; "
            "randomisation itself is not in GEO: confirm it in the trial publication"]
    return {"design": "not_trastuzumab_treated", "treatment_era": "mixed"}, [
        f"design not_trastuzumab_treated, treatment_era mixed: {said} (not arm-randomised, or "
        "too few for a contrast); the treated samples form the within-trastuzumab subset"]


def _proposal_notes(proposals: list[Proposal]) -> list[str]:
    notes = []
    for p in proposals:
        notes += p.guesses
        if p.ambiguous:
            listed = ", ".join(f"{v!r} ({n})" for v, n in p.ambiguous.items())
            notes.append(f"REVIEW {p.field}: mapped to null (unknown) until decided: {listed}")
    return notes


def _series_text_notes(obs: pd.DataFrame, text: str) -> list[str]:
    """What the series title/summary says about fields no key records (stated, not applied)."""
    notes = []
    if "trastuzumab" not in obs and re.search(r"trastuzumab|herceptin", text, re.I):
        notes.append("the series title/summary mentions trastuzumab but no key records it: if "
                     "every patient received it, set trastuzumab: {value: true} and design "
                     "trastuzumab_treated")
    if "her2_status" not in obs and re.search(r"HER2[- ]?(positive|\+)", text, re.I):
        notes.append("the series title/summary mentions HER2-positive tumours but no key records "
                     "HER2: if all are HER2+, set her2_status: {value: positive}")
    return notes


def _sample_filter(obs: pd.DataFrame) -> dict | None:
    """Keep baseline samples when a timepoint field shows several timepoints."""
    if "timepoint" not in obs:
        return None
    seen = set(obs["timepoint"].dropna())
    return {"timepoint": ["baseline"]} if "baseline" in seen and len(seen) > 1 else None


def draft_manifest(source: RawSource, cohort_id: str) -> Draft:
    """Draft the manifest of ``source`` under the id ``cohort_id`` (counts computed, not guessed)."""
    tallies = draft_fields.tally(source.table, source.keys)
    proposals, treatment = propose_fields(tallies, source.table_name)
    fields = {p.field: p.spec for p in proposals}
    every = harmonise(fields, source)
    sample_filter = _sample_filter(every)
    obs = harmonise(fields, source, sample_filter) if sample_filter else every
    design, design_notes = propose_design(obs, treatment)
    if design["design"] in ("not_trastuzumab_treated", "treatment_unrecorded"):
        proposals = [p for p in proposals if p.field != "anti_her2"]
    order = {name: i for i, name in enumerate(clinical.STANDARD_FIELDS)}
    proposals.sort(key=lambda p: order[p.field])
    endpoints: dict = {}
    if "pcr" in obs:
        endpoints["response"] = "pcr"
    survival = [e for e in clinical.ENDPOINTS if f"{e}_event" in obs]
    if survival:
        endpoints["survival"] = survival
    notes = design_notes + _proposal_notes(proposals) + source.notes
    notes += _series_text_notes(obs, source.series_text)
    if "timepoint" not in obs:
        notes.append("timepoint: no key records it; if every sample is a pre-treatment biopsy, "
                     "add timepoint: {value: baseline}")
    if sample_filter:
        notes.append("sample_filter keeps baseline samples: the series holds several timepoints")
    if "patient_id" in every and every["patient_id"].dropna().duplicated().any():
        notes.append("patient_id repeats across samples: declare a replicates rule")
    base = dict(source.base)
    tables = base.pop("clinical_tables", None)
    manifest = {"id": cohort_id, "version": 1, "title": base.pop("title"),
                "citation": base.pop("citation"), "source": base.pop("source"), **design}
    manifest.update(base)
    manifest["clinical"] = ({"tables": tables} if tables else {}) | {
        "fields": {p.field: p.spec for p in proposals}}
    if sample_filter:
        manifest["sample_filter"] = sample_filter
    manifest["endpoints"] = endpoints
    manifest["unverified"] = "\n".join(f"- {n}" for n in notes)
    manifest["expected"] = clinical.count_summary(obs)
    return Draft(manifest, proposals, tallies, notes, source.label)


def _config_defaults() -> dict:
    """data_roots and geo_base_url of ./config.yaml when run from a checkout (else empty)."""
    import yaml

    path = Path("config.yaml")
    if not path.is_file():
        return {}
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return {k: loaded[k] for k in ("data_roots", "geo_base_url") if k in loaded}


def load_source(args) -> RawSource:
    """The source named on the command line: GEO accession, characteristics table or files."""
    from . import draft_sources

    if args.characteristics:
        return draft_sources.characteristics_source(Path(args.characteristics))
    if args.expression or args.clinical:
        if not (args.expression and args.clinical):
            raise Her2AtlasError("--expression and --clinical go together", field="draft",
                                 fix="give both files (or a GEO accession / --characteristics)")
        return draft_sources.files_source(Path(args.expression), Path(args.clinical),
                                          Path(args.data_root[0]) if args.data_root else None)
    gse = (args.accession or "").upper()
    if not re.fullmatch(r"GSE\d+", gse):
        raise Her2AtlasError(f"{args.accession!r} is not a GEO series accession", field="draft",
                             fix="give GSEnnn, --characteristics TABLE or --expression/--clinical")
    config = _config_defaults()
    roots = args.data_root if args.data_root is not None else config.get("data_roots", [])
    base_url = args.geo_url or config.get("geo_base_url", "https://ftp.ncbi.nlm.nih.gov")
    raw_dir = Path(args.raw_dir or f"data/raw/{_cohort_id(args, gse)}")
    path = draft_sources.locate_series_matrix(gse, platform=args.platform, data_roots=roots,
                                              base_url=base_url, raw_dir=raw_dir,
                                              allow_download=not args.offline)
    return draft_sources.geo_source(path, gse=gse, label=str(path))


def _cohort_id(args, accession: str) -> str:
    if args.id:
        return args.id
    return Path(args.out).stem if args.out else accession.lower()


def write_draft(draft: Draft, out: Path, *, schema: Path, force: bool = False) -> str:
    """Write the draft, validate it with :func:`load_manifest` and check it reads back unchanged."""
    from .draft_render import render
    from .manifest import load_manifest

    if out.exists() and not force:
        raise Her2AtlasError(f"{out} exists", file=str(out), fix="pass --force to overwrite it, "
                             "or choose another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(draft), encoding="utf-8")
    if not schema.is_file():
        return f"not validated: schema {schema} not found (run from the repository or pass --schema)"
    loaded = load_manifest(out, schema)
    if loaded["clinical"]["fields"] != draft.manifest["clinical"]["fields"]:
        raise Her2AtlasError("the written fields differ from the drafted ones", file=str(out),
                             fix="report this as a bug in her2atlas draft")
    return "validated against " + str(schema)


def add_parser(sub) -> None:
    """Register ``her2atlas draft`` on the CLI's subparsers."""
    p = sub.add_parser("draft", help="draft a cohort manifest from a GEO series or local tables")
    p.add_argument("accession", nargs="?", help="GEO series, e.g. GSE50948")
    p.add_argument("--characteristics", help="characteristics table (Dataset_ID, Sample_ID, "
                   "Platform_ID, one column per key) instead of the series matrix")
    p.add_argument("--expression", help="local expression file (with --clinical)")
    p.add_argument("--clinical", help="local clinical table (with --expression)")
    p.add_argument("--out", help="manifest to write (default workflow/cohorts/<id>.yaml)")
    p.add_argument("--id", help="cohort id (default: the --out file name, else the accession)")
    p.add_argument("--platform", help="GPL of a multi-platform series")
    p.add_argument("--data-root", action="append", help="mirror searched first (repeatable; "
                   "default: data_roots of ./config.yaml); for --expression the files' root")
    p.add_argument("--geo-url", help="GEO base URL (default: geo_base_url of ./config.yaml)")
    p.add_argument("--raw-dir", help="where a downloaded series matrix is kept "
                   "(default data/raw/<id>, where the cohort step looks first)")
    p.add_argument("--offline", action="store_true", help="never download")
    p.add_argument("--schema", default="workflow/schemas/manifest.schema.yaml")
    p.add_argument("--force", action="store_true", help="overwrite --out")


def run(args) -> int:
    """Run ``her2atlas draft``; print what was written and how many values need review."""
    source = load_source(args)
    accession = source.base.get("source", {}).get("accession") or Path(source.label).stem
    cohort_id = _cohort_id(args, accession)
    draft = draft_manifest(source, cohort_id)
    out = Path(args.out or f"workflow/cohorts/{cohort_id}.yaml")
    status = write_draft(draft, out, schema=Path(args.schema), force=args.force)
    review = sum(1 for p in draft.proposals if p.ambiguous)
    found = ", ".join(p.field for p in draft.proposals) or "none"
    print(f"draft: {out} ({status})\n  fields: {found}\n  design: {draft.manifest['design']}\n"
          f"  expected: {draft.manifest['expected']}\n  {len(draft.unverified)} note(s) under "
          f"unverified:, {review} field(s) with values to REVIEW")
    return 0
