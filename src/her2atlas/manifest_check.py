"""Check manifests (and, with ``data=True``, their data files) and report every problem at once.

``her2atlas check-manifest --data`` and the workflow's start-up check call :func:`check_cohorts`.
Unlike :func:`her2atlas.manifest.load_manifest`, which raises at the first problem, this module
collects :class:`Finding` rows: schema violations, references the schema cannot see, files
missing from the mirror (with the relative path looked for), clinical columns that do not
exist (with the nearest real names and every column), raw values with no mapping (with their
counts), the expression orientation guessed from the ids, survival times implausible for
their unit, and expected counts against those found (labelled with their manifest section).

Only headers, the first column of an expression file and the clinical tables are read, so the
check is fast enough to run before any job. The value checks reuse the functions the cohort
build runs (:func:`her2atlas.clinical.field_values` …), so a value is reported here exactly
when the build would reject it.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import pandas as pd

from . import clinical
from .errors import Her2AtlasError, did_you_mean, one_of
from .fetch import find_in_roots, not_found_error
from .manifest import expand, manifest_problems
from .validation import default_schema, load_yaml, schema_problems

#: Rows read from the first column of an expression file to guess its orientation.
ORIENTATION_ROWS = 5000


@dataclass(frozen=True)
class Finding:
    """One problem: where it is (cohort, file, manifest section and field), what, and the fix."""

    cohort: str
    file: str
    section: str
    field: str
    problem: str
    found: str = ""
    fix: str = ""
    severity: str = "error"  # error (the run would fail or be wrong) or note (not checked)


COLUMNS = tuple(f.name for f in fields(Finding))


def display_path(path: str | Path) -> str:
    """``path`` relative to the current directory when it is below it, else as given."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def section_of(field: str | None) -> str:
    """The manifest section of a dotted field (``clinical.fields.pcr`` → ``clinical``)."""
    return (field or "").split(".")[0].split("[")[0] or "(top level)"


def from_error(exc: Her2AtlasError, *, cohort: str, file: str, found: str = "") -> Finding:
    """A finding from a raised :class:`Her2AtlasError` (its file if it names a data file)."""
    where = display_path(exc.file) if exc.file else file
    return Finding(cohort, where, section_of(exc.field), exc.field or "", exc.message,
                   found, exc.fix or "")


def check_manifest(path: str | Path, *, schema_path: str | Path | None = None, data: bool = False,
                   data_roots: list[str | Path] = (), raw_dir: str | Path | None = None,
                   allow_download: bool = False,
                   geo_base_url: str = "https://ftp.ncbi.nlm.nih.gov") -> list[Finding]:
    """Every problem of one manifest (and of its data files when ``data``).

    Parameters
    ----------
    path
        The manifest.
    schema_path
        The manifest schema (default: the one shipped in ``workflow/schemas``).
    data
        Also read the data files (mirror or cache) and check them against the manifest.
    data_roots
        Mirrors searched for each file's ``path``.
    raw_dir
        The fetch cache (``data/raw``); ``raw_dir/<cohort>/<name>`` is used first.
    allow_download
        A file in no root but with a ``url`` is then a note (fetched later), not an error.
    geo_base_url
        Root of GEO's tree (for GEO cohorts' file entries).

    Returns
    -------
    list of Finding
        Empty when everything checked is fine.
    """
    path = Path(path)
    cohort, file = path.stem, display_path(path)
    try:
        doc = load_yaml(path) or {}
    except Her2AtlasError as exc:
        return [from_error(exc, cohort=cohort, file=file)]
    problems = schema_problems(doc, schema_path or default_schema("manifest"))
    if problems:
        return [Finding(cohort, file, section_of(f), f, m, fix=x) for f, m, x in problems]
    expand(doc, geo_base_url=geo_base_url)
    findings = [from_error(e, cohort=cohort, file=file) for e in manifest_problems(doc, path)]
    if data:
        from .data_check import DataCheck

        findings += DataCheck(doc, path, data_roots=[Path(r) for r in data_roots],
                              raw_dir=None if raw_dir is None else Path(raw_dir),
                              allow_download=allow_download).run()
    return findings


def table_columns(path: str | Path, *, data_roots: list[str | Path] = (),
                  raw_dir: str | Path | None = None,
                  geo_base_url: str = "https://ftp.ncbi.nlm.nih.gov", **_) -> str:
    """The columns of every clinical table of a manifest (GEO: the characteristic keys), as text.

    What a field's ``column`` can name; tables whose file is not available are left out.
    """
    from .data_check import DataCheck
    from .manifest import load_manifest

    path = Path(path)
    manifest = load_manifest(path, geo_base_url=geo_base_url)
    check = DataCheck(manifest, path, data_roots=[Path(r) for r in data_roots],
                      raw_dir=None if raw_dir is None else Path(raw_dir), allow_download=False)
    check.run()
    lines = [f"{path.stem}:"]
    for name, columns in check.table_columns().items():
        lines.append(f"  {name}: {one_of(columns)}")
    return "\n".join(lines)


def check_cohorts(manifests: dict[str, str | Path], **options) -> list[Finding]:
    """:func:`check_manifest` for every cohort (id → manifest path), findings in cohort order."""
    findings: list[Finding] = []
    for path in manifests.values():
        findings += check_manifest(path, **options)
    return findings


def errors(findings: list[Finding]) -> list[Finding]:
    """The findings that stop a run."""
    return [f for f in findings if f.severity == "error"]


def format_table(findings: list[Finding], *, checked: list[str] | None = None) -> str:
    """One plain-text table: a row per finding, its fix on the line below."""
    if not findings:
        what = f" ({len(checked)} cohort(s): {', '.join(checked)})" if checked else ""
        return f"no problems found{what}"
    head = ("severity", "cohort", "file", "field", "problem")
    rows = [(f.severity, f.cohort, f.file, f.field,
             f.problem + (f" [{f.found}]" if f.found else "")) for f in findings]
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(4)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head[:4], widths, strict=True)) + "  problem"]
    for finding, row in zip(findings, rows, strict=True):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row[:4], widths, strict=True))
                     + "  " + row[4])
        if finding.fix:
            lines.append("    fix: " + finding.fix)
    n_err = len(errors(findings))
    lines.append(f"{n_err} error(s), {len(findings) - n_err} note(s)")
    return "\n".join(lines)


def write_tsv(findings: list[Finding], path: str | Path) -> Path:
    """Write the findings as a TSV (header only when there are none), atomically."""
    import io

    from .atomic import write_text

    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
    writer.writerow(COLUMNS)
    for finding in findings:
        row = asdict(finding)
        writer.writerow([str(row[c]).replace("\t", " ").replace("\n", " ") for c in COLUMNS])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, buffer.getvalue())
    return path


def locate(entry: dict, *, cohort: str, data_roots: list[Path], raw_dir: Path | None
           ) -> Path | None:
    """Where a declared file is now: the fetch cache first, then the data roots (or None)."""
    if raw_dir is not None and (raw_dir / cohort / entry["name"]).is_file():
        return raw_dir / cohort / entry["name"]
    return find_in_roots(entry["path"], data_roots) if entry.get("path") else None


def missing_file_finding(entry: dict, *, cohort: str, file: str, data_roots: list[Path],
                         allow_download: bool, api: bool = False) -> Finding:
    """An error (or, when it will be downloaded, a note) for a file not available locally.

    ``api``: the file comes from a web API when downloads are allowed (cBioPortal studies).
    """
    if (entry.get("url") or api) and allow_download:
        return Finding(cohort, file, "files", f"files.{entry['name']}",
                       "not checked: not in the cache or a data root; it is downloaded by the "
                       "fetch step", severity="note")
    return from_error(not_found_error(entry, data_roots, context=file), cohort=cohort, file=file)


def columns_fix(column: str, columns, *, characteristic_keys=None) -> str:
    """Nearest real columns, then every column; GEO characteristic keys listed first."""
    columns = [str(c) for c in columns]
    if characteristic_keys:
        keys = [c for c in columns if c in characteristic_keys]
        other = [c for c in columns if c not in characteristic_keys]
        return (f"{did_you_mean(column, columns)}characteristic keys: {one_of(keys)}; other GEO "
                f"sample fields: {one_of(other)}")
    return clinical.missing_column_fix(column, columns)


def relabel(table: pd.DataFrame) -> pd.DataFrame:
    """A raw string table as the cohort build sees it (missing cells as empty strings)."""
    return table.astype(object).where(table.notna(), "")


# ---- command line ----------------------------------------------------------------------------
def add_arguments(parser) -> None:
    """Arguments of ``her2atlas check-manifest``."""
    parser.add_argument("manifests", nargs="+",
                        help="manifest files, or cohort ids (workflow/cohorts/<id>.yaml)")
    parser.add_argument("--data", action="store_true",
                        help="also read the data files (mirror or cache) and check them")
    parser.add_argument("--configfile", action="append", default=[],
                        help="config file(s) giving data_roots, raw_dir, allow_download and "
                        "geo_base_url, later ones winning as in snakemake (default: the "
                        "repository's config.yaml); relative paths start at the repository")
    parser.add_argument("--data-root", action="append", default=[],
                        help="a mirror to search (repeatable; replaces the config's data_roots)")
    parser.add_argument("--raw-dir", help="the fetch cache (default the config's raw_dir)")
    parser.add_argument("--tsv", help="also write the findings to this TSV")
    parser.add_argument("--columns", action="store_true",
                        help="print every clinical table's columns (GEO: characteristic keys)")
    parser.add_argument("--schema", help="manifest schema (default the repository's)")


def resolve_manifest(name: str, manifest_dirs: list[Path]) -> Path:
    """A manifest path, or a cohort id looked up in the config's manifest folders."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml") or "/" in name:
        return path
    found = [d / f"{name}.yaml" for d in manifest_dirs if (d / f"{name}.yaml").is_file()]
    return found[0] if found else manifest_dirs[0] / f"{name}.yaml"


def settings_from(configfiles: list[str]) -> dict:
    """manifest_dirs, data_roots, raw_dir, allow_download and geo_base_url from config files.

    Later files win, as with snakemake's ``--configfile``; relative paths start at the
    repository (where snakemake runs).
    """
    from .validation import REPO_ROOT

    # as the Snakefile: the repository's config.yaml first, then each --configfile
    default = REPO_ROOT / "config.yaml"
    files = ([default] if default.is_file() else []) + [Path(f) for f in configfiles]
    merged: dict = {}
    for file in files:
        merged.update(load_yaml(file) or {})

    def at_repo(p: str) -> Path:
        return Path(p) if Path(p).is_absolute() else REPO_ROOT / p
    dirs = merged.get("manifests_dir", "workflow/cohorts")
    return {"manifest_dirs": [at_repo(d) for d in ([dirs] if isinstance(dirs, str) else dirs)],
            "data_roots": [at_repo(r) for r in merged.get("data_roots", [])],
            "raw_dir": at_repo(merged.get("raw_dir", "data/raw")),
            "allow_download": bool(merged.get("allow_download", True)),
            "geo_base_url": merged.get("geo_base_url", "https://ftp.ncbi.nlm.nih.gov")}


def main(args) -> int:
    """Run ``her2atlas check-manifest``; print one table; 1 when any finding is an error."""
    settings = settings_from(args.configfile)
    if args.data_root:
        settings["data_roots"] = [Path(r) for r in args.data_root]
    if args.raw_dir:
        settings["raw_dir"] = Path(args.raw_dir)
    dirs = settings.pop("manifest_dirs")
    manifests = {name: resolve_manifest(name, dirs) for name in args.manifests}
    if args.columns:
        for path in manifests.values():
            try:
                print(table_columns(path, **settings))
            except Her2AtlasError as exc:
                print(f"{path}: columns not listed ({exc.message})")
    findings = check_cohorts(manifests, schema_path=args.schema, data=args.data, **settings)
    print(format_table(findings, checked=[Path(p).stem for p in manifests.values()]))
    if args.tsv:
        write_tsv(findings, args.tsv)
    return 1 if errors(findings) else 0
