"""Raw clinical tables → the standard clinical vocabulary of DESIGN.md (``obs`` columns)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import Her2AtlasError, did_you_mean, one_of

#: Raw strings read as missing in every table (a manifest may add more).
MISSING_TOKENS = frozenset({
    "", "NA", "N/A", "n/a", "na", "NaN", "nan", "---", "--", "?", "[Not Available]",
    "[Not Evaluated]", "[Unknown]", "[Not Applicable]", "[Discrepancy]", "Unk", "null", "NULL",
})

STATUS_FIELDS = ("her2_status", "er_status", "pr_status")
STATUS_VALUES = ("positive", "negative")
PAM50_VALUES = ("Basal", "Her2", "LumA", "LumB", "Normal", "claudin-low")
ENDPOINTS = ("efs", "rfs", "dfs", "dmfs", "os", "dss", "pfi")
BINARY_FIELDS = ("pcr",) + tuple(f"{e}_event" for e in ENDPOINTS)
TIME_FIELDS = tuple(f"{e}_time" for e in ENDPOINTS)
TEXT_FIELDS = ("patient_id", "arm", "anti_her2", "chemotherapy", "timepoint", "rcb", "pam50")
BOOL_FIELDS = ("trastuzumab",)
TIMEPOINTS = ("baseline", "on_treatment", "surgery")
STANDARD_FIELDS = (
    TEXT_FIELDS[:1] + STATUS_FIELDS + TEXT_FIELDS[1:] + BOOL_FIELDS + BINARY_FIELDS + TIME_FIELDS
)
#: Months per unit (a month is 365.25 / 12 = 30.4375 days).
TIME_UNITS = {"days": 1 / 30.4375, "weeks": 7 / 30.4375, "months": 1.0, "years": 12.0}
#: A median survival time above this many months (20 years) is taken as a wrong unit.
MAX_MEDIAN_MONTHS = 240.0


def read_table(path: str | Path, *, comment: str | None = None, delimiter: str | None = None,
               decimal: str = ".", sheet: str | int | None = None) -> pd.DataFrame:
    """Read a clinical table (CSV/TSV/any delimiter, gz allowed, or .xlsx) as strings.

    Nothing is converted to NA yet. ``comment``: leading lines starting with it are skipped
    (cBioPortal files start with four ``#`` lines); the character inside values is left alone.
    ``delimiter`` (default: sniffed from the header), ``decimal`` and ``sheet`` are the
    manifest's table options (see :func:`her2atlas.tables.read_strings`).
    """
    from .tables import read_strings

    return read_strings(path, delimiter=delimiter, decimal=decimal, sheet=sheet, comment=comment)


def read_table_spec(path: str | Path, spec: dict) -> pd.DataFrame:
    """:func:`read_table` with the reading options of a manifest's ``clinical.tables`` entry."""
    return read_table(path, comment=spec.get("comment"), delimiter=spec.get("delimiter"),
                      decimal=spec.get("decimal", "."), sheet=spec.get("sheet"))


def missing_column_fix(column: str, columns, *, what: str = "columns") -> str:
    """A fix naming the nearest real columns and listing every column (never cut short)."""
    return f"{did_you_mean(column, columns)}{what} are: {one_of(columns)}"


def index_table(
    table: pd.DataFrame,
    *,
    id_column: str,
    id_length: int | None = None,
    duplicate_ids: str = "error",
    file: str = "",
) -> tuple[pd.DataFrame, dict]:
    """Index a clinical table by sample id, resolving duplicated ids by a declared rule.

    Parameters
    ----------
    table
        Raw table (strings).
    id_column
        The column holding the sample (or patient) id.
    id_length
        Keep only the first ``id_length`` characters of the id (e.g. 12 for TCGA patient barcodes).
    duplicate_ids
        ``error``; ``first`` (keep the first row); or ``consensus`` (one row per id, a value kept
        where all duplicates agree, missing where they differ).
    file
        Named in errors.

    Returns
    -------
    (pandas.DataFrame, dict)
        Table indexed by id, and a summary of what the duplicate rule did.
    """
    if id_column not in table.columns:
        raise Her2AtlasError(
            f"id column {id_column!r} not found", file=file, field="clinical.tables.id_column",
            fix="set id_column to the column holding the sample ids; "
            + missing_column_fix(id_column, table.columns),
        )
    ids = table[id_column].astype(str).str.strip()
    if id_length:
        ids = ids.str.slice(0, id_length)
    table = table.assign(**{id_column: ids}).set_index(id_column)
    dup = table.index.duplicated(keep=False)
    summary = {"duplicated_ids": int(table.index[dup].nunique()), "conflicting_ids": 0}
    if not dup.any():
        return table, summary
    if duplicate_ids == "error":
        example = table.index[dup][0]
        raise Her2AtlasError(
            f"{summary['duplicated_ids']} sample id(s) occur more than once, e.g. {example!r}",
            file=file, field=id_column,
            fix="remove the duplicates or set duplicate_ids: first | consensus in the manifest",
        )
    if duplicate_ids == "first":
        return table[~table.index.duplicated(keep="first")], summary
    if duplicate_ids != "consensus":
        raise Her2AtlasError(f"unknown duplicate_ids rule {duplicate_ids!r}", file=file,
                             fix="use error, first or consensus")
    grouped = table.groupby(level=0, sort=False)
    nunique = grouped.nunique(dropna=False)
    first = grouped.first()
    conflict = nunique > 1
    summary["conflicting_ids"] = int(conflict.any(axis=1).sum())
    return first.mask(conflict, ""), summary


def _canonical(value: str) -> str:
    """'1.0' → '1' so that numeric codes match map keys written as integers."""
    try:
        number = float(value)
    except ValueError:
        return value
    return str(int(number)) if number.is_integer() else value


def _apply_map(raw: pd.Series, mapping: dict, regex: list, field: str, file: str) -> pd.Series:
    lookup = {str(k): v for k, v in (mapping or {}).items()}
    patterns = [(re.compile(p), v) for p, v in (regex or [])]
    out = pd.Series([None] * len(raw), index=raw.index, dtype=object)
    unmapped: dict[str, int] = {}
    for sample, value in raw.items():
        if value is None:
            continue
        if value in lookup:
            out[sample] = lookup[value]
        elif _canonical(value) in lookup:
            out[sample] = lookup[_canonical(value)]
        else:
            for pattern, mapped in patterns:
                if pattern.search(value):
                    out[sample] = mapped
                    break
            else:
                unmapped[value] = unmapped.get(value, 0) + 1
    if unmapped:
        raise Her2AtlasError(
            f"{len(unmapped)} raw value(s) with no mapping: {value_counts_text(unmapped)}",
            file=file, field=f"clinical.fields.{field}.map",
            fix="add them to 'map' (use null for values that mean 'unknown') or to 'missing'",
        )
    return out


def _coerce(field: str, values: pd.Series, file: str) -> pd.Series:
    """Check and convert mapped values to the type of the standard field."""
    def fail(bad, allowed):
        raise Her2AtlasError(
            f"value(s) {sorted(map(str, bad))[:6]} are not allowed for {field}",
            file=file, field=f"clinical.fields.{field}",
            fix=f"map raw values to one of: {allowed}",
        )
    present = values.dropna()
    if field in STATUS_FIELDS:
        bad = set(present) - set(STATUS_VALUES)
        if bad:
            fail(bad, ", ".join(STATUS_VALUES))
        return values.astype("object")
    if field == "pam50":
        bad = set(present) - set(PAM50_VALUES)
        if bad:
            fail(bad, ", ".join(PAM50_VALUES))
        return values.astype("object")
    if field == "timepoint":
        bad = set(present) - set(TIMEPOINTS)
        if bad:
            fail(bad, ", ".join(TIMEPOINTS))
        return values.astype("object")
    if field in BINARY_FIELDS:
        numeric = pd.to_numeric(present.astype(str), errors="coerce")
        bad = set(present[numeric.isna() | ~numeric.isin([0, 1])])
        if bad:
            fail(bad, "0, 1")
        return pd.to_numeric(values, errors="coerce").astype("Float64").astype("Int8")
    if field in TIME_FIELDS:
        numeric = pd.to_numeric(present.astype(str), errors="coerce")
        bad = set(present[numeric.isna()])
        if bad:
            fail(bad, "a number")
        if (numeric < 0).any():
            raise Her2AtlasError(
                f"negative times in {field} (e.g. {numeric[numeric < 0].iloc[0]})",
                file=file, field=f"clinical.fields.{field}",
                fix="check the column and its unit; times must be >= 0",
            )
        return pd.to_numeric(values, errors="coerce").astype(float)
    if field in BOOL_FIELDS:
        truth = {"true": True, "false": False, "1": True, "0": False}

        def as_bool(v):
            if v is None or v is pd.NA:
                return None
            return truth.get(str(v).strip().lower())

        bad = {v for v in present if as_bool(v) is None}
        if bad:
            fail(bad, "true, false")
        return values.map(as_bool).astype("boolean")
    return values.map(lambda v: None if v is None else str(v)).astype("object")


def value_counts_text(counts: dict) -> str:
    """Every value with its count, most frequent first: ``'HER2 2+' (3), 'x' (1)``."""
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
    return ", ".join(f"{k!r} ({n})" for k, n in ordered)


def _column(tables: dict[str, pd.DataFrame], samples: pd.Index, spec: dict, key: str,
            field: str, file: str) -> pd.Series:
    """The raw column ``spec[key]`` of table ``spec["table"]``, one value per sample."""
    name = spec["table"]
    if name not in tables:
        raise Her2AtlasError(
            f"unknown table {name!r}", file=file, field=f"clinical.fields.{field}.table",
            fix=f"{did_you_mean(name, tables)}use one of: {one_of(tables)}",
        )
    table = tables[name]
    if spec[key] not in table.columns:
        raise Her2AtlasError(
            f"{key.replace('_', ' ')} {spec[key]!r} not in table {name!r}",
            file=file, field=f"clinical.fields.{field}.{key}",
            fix=missing_column_fix(spec[key], table.columns),
        )
    return table[spec[key]].reindex(samples)


def _raw(column: pd.Series, tokens: set[str]) -> pd.Series:
    """Stripped strings, None where missing."""
    return column.map(lambda v: None if pd.isna(v) or str(v).strip() in tokens
                      else str(v).strip())


def _months_between(tables, samples, spec: dict, tokens: set[str], field: str,
                    file: str) -> pd.Series:
    """Months from ``start_date`` to ``end_date`` (days / 30.4375); dates ISO or ``date_format``."""
    fmt = spec.get("date_format")
    dates = []
    for key in ("start_date", "end_date"):
        raw = _raw(_column(tables, samples, spec, key, field, file), tokens)
        parsed = pd.to_datetime(raw, format=fmt or "ISO8601", errors="coerce")
        bad = raw[raw.notna() & parsed.isna()]
        if len(bad):
            raise Her2AtlasError(
                f"{len(bad)} value(s) of {spec[key]!r} are not dates: "
                f"{value_counts_text(bad.value_counts().to_dict())}",
                file=file, field=f"clinical.fields.{field}.{key}",
                fix="declare date_format (e.g. '%d.%m.%Y'; default ISO 8601 'YYYY-MM-DD') or "
                "add the values to 'missing'")
        dates.append(parsed)
    days = (dates[1] - dates[0]).dt.days.astype(float)
    return (days / 30.4375).astype(object).where(days.notna(), None)


def _status_event(tables, samples, spec: dict, tokens: set[str], field: str,
                  file: str) -> pd.Series:
    """0/1 event from a status column (``event_values`` / ``censored_values``) and a cause.

    With ``cause_column``, an event counts only when its cause is one of ``cause_values``; an
    event with another recorded cause is censored (0) and one without a cause is unknown.
    """
    status = _raw(_column(tables, samples, spec, "column", field, file), tokens)
    events = {str(v) for v in spec["event_values"]}
    censored = {str(v) for v in spec.get("censored_values", [])}
    unmapped = status[status.notna() & ~status.isin(events | censored)]
    if len(unmapped):
        raise Her2AtlasError(
            f"{unmapped.nunique()} status value(s) are neither event_values nor censored_values: "
            f"{value_counts_text(unmapped.value_counts().to_dict())}",
            file=file, field=f"clinical.fields.{field}.event_values",
            fix="add them to event_values, censored_values or 'missing'")
    out = status.map(lambda v: None if v is None else (1 if v in events else 0))
    if spec.get("cause_column"):
        cause = _raw(_column(tables, samples, spec, "cause_column", field, file), tokens)
        wanted = {str(v) for v in spec.get("cause_values", [])}
        other = (out == 1) & cause.notna() & ~cause.isin(wanted)
        unknown = (out == 1) & cause.isna()
        out = out.where(~other, 0).where(~unknown, None)
    return out.astype(object)


def check_time_scale(values: pd.Series, *, field: str, unit: str, file: str) -> None:
    """Refuse times whose median is implausible for the declared (or default) unit."""
    median = float(np.nanmedian(values.to_numpy(dtype=float))) if values.notna().any() else 0.0
    if median <= MAX_MEDIAN_MONTHS:
        return
    raw = median / TIME_UNITS[unit]
    fits = [u for u in ("days", "weeks") if raw * TIME_UNITS[u] <= MAX_MEDIAN_MONTHS]
    guess = f"the values look like {fits[0]}: set unit: {fits[0]}" if fits else (
        "check the column and its unit")
    raise Her2AtlasError(
        f"median {field} is {median:,.0f} months when read as {unit} "
        f"(above {MAX_MEDIAN_MONTHS:.0f} months = 20 years)", file=file,
        field=f"clinical.fields.{field}.unit", fix=guess)


def _mapped_column(tables, samples, spec: dict, tokens: set[str], field: str,
                   file: str) -> pd.Series:
    """A table column's values through the spec's ``map`` / ``regex`` (unknown = None)."""
    mapped = _raw(_column(tables, samples, spec, "column", field, file), tokens)
    if spec.get("map") is not None or spec.get("regex"):
        mapped = _apply_map(mapped, spec.get("map"), spec.get("regex"), field, file)
    return mapped


def field_values(field: str, spec: dict, tables: dict[str, pd.DataFrame], samples: pd.Index,
                 *, missing: set[str], file: str = "") -> pd.Series:
    """One standard column for ``samples`` from its manifest ``spec`` (see :func:`map_fields`)."""
    tokens = set(missing) | set(map(str, spec.get("missing", [])))
    if "value" in spec:
        mapped = pd.Series([spec["value"]] * len(samples), index=samples, dtype=object)
    elif "start_date" in spec:
        mapped = _months_between(tables, samples, spec, tokens, field, file)
    elif "event_values" in spec:
        mapped = _status_event(tables, samples, spec, tokens, field, file)
    else:
        mapped = _mapped_column(tables, samples, spec, tokens, field, file)
        if "fallback" in spec:  # e.g. HER2 by ISH where IHC is equivocal (2+) or not done
            other = _mapped_column(tables, samples, {"table": spec["table"], **spec["fallback"]},
                                   tokens, f"{field}.fallback", file)
            mapped = mapped.where(mapped.notna(), other)
    values = _coerce(field, mapped, file)
    if field in TIME_FIELDS and "start_date" not in spec:
        unit = spec.get("unit", "months")
        values = values * TIME_UNITS[unit]
        check_time_scale(values, field=field, unit=unit, file=file)
    return values


def map_fields(
    tables: dict[str, pd.DataFrame],
    samples: pd.Index,
    fields: dict[str, dict],
    *,
    missing: list[str] | None = None,
    file: str = "",
) -> pd.DataFrame:
    """Build the standard ``obs`` table for ``samples`` from raw clinical tables.

    Parameters
    ----------
    tables
        Raw tables (strings) indexed by sample id, by name.
    samples
        The expression sample ids; rows of the result, in this order.
    fields
        Standard column → spec. A spec has either ``value`` (a constant) or ``table`` +
        ``column``; optionally ``map`` (raw → standard, null = unknown), ``regex`` (list of
        ``[pattern, value]`` tried after ``map``), ``unit`` (for ``*_time``: days, weeks,
        months, years) and ``missing`` (extra raw values meaning unknown). A ``*_time`` may
        instead give ``table`` + ``start_date`` + ``end_date`` (+ ``date_format``); an
        ``*_event`` may give a status ``column`` with ``event_values`` / ``censored_values``
        and optionally ``cause_column`` / ``cause_values``. ``fallback`` (``column`` + ``map``
        of the same table) gives the value where ``column`` gives none (unknown or missing),
        e.g. HER2 by ISH where IHC is equivocal.
    missing
        Extra missing tokens for every field.
    file
        The manifest, named in errors.

    Returns
    -------
    pandas.DataFrame
        One row per sample, one column per standard field in :data:`STANDARD_FIELDS` order
        (fields not declared are absent, never guessed).
    """
    obs = pd.DataFrame(index=pd.Index(samples, name=None))
    base_missing = set(MISSING_TOKENS) | set(missing or [])
    for field in STANDARD_FIELDS:
        if field in fields:
            obs[field] = field_values(field, fields[field], tables, samples,
                                      missing=base_missing, file=file)
    return obs


def check_survival_pairs(obs: pd.DataFrame, *, file: str = "") -> None:
    """Every ``*_time`` needs its ``*_event`` and vice versa."""
    for endpoint in ENDPOINTS:
        has_time = f"{endpoint}_time" in obs
        has_event = f"{endpoint}_event" in obs
        if has_time != has_event:
            missing = f"{endpoint}_event" if has_time else f"{endpoint}_time"
            raise Her2AtlasError(
                f"{endpoint} needs both time and event", file=file,
                field=f"clinical.fields.{missing}", fix=f"declare {missing}",
            )


def count_summary(obs: pd.DataFrame) -> dict[str, int]:
    """The counts a manifest can assert: samples, HER2+, treated, pCR and survival events."""
    counts = {"samples": len(obs)}
    if "her2_status" in obs:
        counts["her2_positive"] = int((obs["her2_status"] == "positive").sum())
    if "er_status" in obs:
        counts["er_positive"] = int((obs["er_status"] == "positive").sum())
    if "trastuzumab" in obs:
        counts["trastuzumab"] = int(obs["trastuzumab"].fillna(False).astype(bool).sum())
    if "pcr" in obs:
        counts["pcr_labelled"] = int(obs["pcr"].notna().sum())
        counts["pcr_events"] = int((obs["pcr"] == 1).sum())
    for endpoint in ENDPOINTS:
        if f"{endpoint}_event" in obs:
            ok = obs[f"{endpoint}_event"].notna() & obs[f"{endpoint}_time"].notna()
            counts[f"{endpoint}_labelled"] = int(ok.sum())
            counts[f"{endpoint}_events"] = int((obs.loc[ok, f"{endpoint}_event"] == 1).sum())
    if "her2_status" in obs:
        her2 = obs["her2_status"] == "positive"
        if "pcr" in obs:
            counts["her2_positive_pcr_events"] = int((obs.loc[her2, "pcr"] == 1).sum())
        for endpoint in ENDPOINTS:
            if f"{endpoint}_event" in obs:
                sub = obs.loc[her2]
                ok = sub[f"{endpoint}_event"].notna() & sub[f"{endpoint}_time"].notna()
                counts[f"her2_positive_{endpoint}_events"] = int(
                    (sub.loc[ok, f"{endpoint}_event"] == 1).sum())
    return {k: int(v) for k, v in counts.items()}


def count_requirements() -> dict[str, tuple[str, ...]]:
    """Every count :func:`count_summary` can give, with the standard fields it needs."""
    need: dict[str, tuple[str, ...]] = {"samples": ()}
    need.update(her2_positive=("her2_status",), er_positive=("er_status",),
                trastuzumab=("trastuzumab",), pcr_labelled=("pcr",), pcr_events=("pcr",),
                her2_positive_pcr_events=("her2_status", "pcr"))
    for endpoint in ENDPOINTS:
        pair = (f"{endpoint}_time", f"{endpoint}_event")
        need[f"{endpoint}_labelled"] = pair
        need[f"{endpoint}_events"] = pair
        need[f"her2_positive_{endpoint}_events"] = ("her2_status", *pair)
    return need


def as_float_array(series: pd.Series) -> np.ndarray:
    """Nullable column → float array with NaN for missing."""
    return pd.to_numeric(series, errors="coerce").astype(float).to_numpy()
