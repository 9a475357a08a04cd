"""Check one cohort's data files against its manifest, collecting every problem (no raising).

Used by :func:`her2atlas.manifest_check.check_manifest` with ``data=True``. Reads headers, the
first column of each expression file and the clinical tables; maps every field with the
functions the cohort build uses, one field at a time, so that each broken field gives one
finding and the others are still checked. Counts are compared only for keys whose fields
mapped cleanly, so that one mistake gives one finding.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from . import clinical, cohort
from .errors import Her2AtlasError
from .manifest_check import (
    ORIENTATION_ROWS,
    Finding,
    columns_fix,
    display_path,
    from_error,
    locate,
    missing_file_finding,
    relabel,
)
from .tables import read_strings

OTHER = {"genes_by_samples": "samples_by_genes", "samples_by_genes": "genes_by_samples"}


class DataCheck:
    """The data checks of one expanded, schema-valid manifest.

    Parameters
    ----------
    manifest
        The manifest (after :func:`her2atlas.manifest.expand`).
    path
        Its file (named in findings).
    data_roots, raw_dir, allow_download
        Where files are looked for, and whether a missing file will be downloaded.
    """

    def __init__(self, manifest: dict, path: Path, *, data_roots: list[Path],
                 raw_dir: Path | None, allow_download: bool) -> None:
        self.m = manifest
        self.cohort = path.stem
        self.file = display_path(path)
        self.roots, self.raw_dir, self.allow_download = data_roots, raw_dir, allow_download
        self.findings: list[Finding] = []
        self.located: dict[str, Path] = {}
        self.axes: dict[str, tuple[list[str], list[str]]] = {}  # file → (column ids, row ids)
        self.broken_tables: set[str] = set()
        self.broken_fields: set[str] = set()
        self.characteristic_keys: list[str] = []
        self.geo_columns: list[str] = []
        self.raw_tables: dict[str, pd.DataFrame] = {}
        self.ids_unmatched = False  # some table matches no sample: counts would mislead

    def add(self, exc: Her2AtlasError, *, found: str = "", fix: str | None = None) -> None:
        finding = from_error(exc, cohort=self.cohort, file=self.file, found=found)
        if fix is not None:
            finding = Finding(**{**finding.__dict__, "fix": fix})
        self.findings.append(finding)

    def run(self) -> list[Finding]:
        """Run every check; return the findings."""
        self.locate_files()
        samples, extra = self.samples()
        tables = self.tables(samples, extra)
        if samples is not None:
            obs = self.fields(tables, samples)
            self.counts(obs)
            self.clinical_counts()
        return self.findings

    def table_columns(self) -> dict[str, list[str]]:
        """Every table's columns after :meth:`run` (GEO: characteristic keys listed apart)."""
        out: dict[str, list[str]] = {}
        if self.geo_columns:
            keys = self.characteristic_keys
            out["geo (characteristic keys)"] = keys
            out["geo (other sample fields)"] = [c for c in self.geo_columns if c not in keys]
        for name, raw in self.raw_tables.items():
            out[name] = [str(c) for c in raw.columns]
        return out

    # ---- files ---------------------------------------------------------------------------
    def locate_files(self) -> None:
        """Find every declared file in the cache or a data root; report the missing ones."""
        for entry in self.m["files"]:
            where = locate(entry, cohort=self.cohort, data_roots=self.roots, raw_dir=self.raw_dir)
            fallback = entry.get("fallback")
            if where is None and fallback:
                where = locate(fallback, cohort=self.cohort, data_roots=self.roots,
                               raw_dir=self.raw_dir)
                if where is not None:
                    self.located[fallback["name"]] = where
            if where is None:
                self.findings.append(missing_file_finding(
                    entry, cohort=self.cohort, file=self.file, data_roots=self.roots,
                    allow_download=self.allow_download,
                    api=self.m["source"]["kind"] == "cbioportal"))
            else:
                self.located[entry["name"]] = where

    # ---- expression samples ----------------------------------------------------------------
    def samples(self) -> tuple[pd.Index | None, dict[str, pd.DataFrame]]:
        """The expression sample ids (None when a file is missing) and GEO's sample table."""
        spec = self.m["expression"]
        if self.m["source"]["kind"] == "geo":
            return self.geo_samples()
        ids: list[str] = []
        for name in spec.get("files", []):
            if name not in self.located:
                return None, {}
            found = self.expression_ids(self.located[name], spec, name)
            if found is None:
                return None, {}
            seen = set(ids)  # samples in several files are kept once, as the build does
            ids += [i for i in found if i not in seen]
        return pd.Index(ids), {}

    def geo_samples(self) -> tuple[pd.Index | None, dict[str, pd.DataFrame]]:
        from . import geo

        names = self.m["expression"]["files"]
        if any(n not in self.located for n in names):
            return None, {}
        parsed = [geo.parse_series_matrix(self.located[n], table=False) for n in names]
        table = pd.concat([p.samples for p in parsed], axis=0)
        self.characteristic_keys = [k for p in parsed for k in p.characteristic_keys]
        self.geo_columns = [str(c) for c in table.columns]
        key = self.m["geo"].get("sample_key", "geo_accession")
        if key != "geo_accession":
            if key not in table.columns:
                self.add(Her2AtlasError(f"GEO sample field {key!r} not found", file=self.file,
                                        field="geo.sample_key"),
                         fix=columns_fix(key, table.columns,
                                         characteristic_keys=self.characteristic_keys))
                return None, {}
            table = table.assign(geo_accession=table.index).set_index(key)
            table.index.name = None
        samples = pd.Index(table.index)
        supplementary = self.m["geo"].get("expression_file")
        if supplementary:
            if supplementary["name"] not in self.located:
                return None, {"geo": table}
            found = self.expression_ids(self.located[supplementary["name"]], supplementary,
                                        supplementary["name"])
            samples = None if found is None else pd.Index(found)
        return samples, {"geo": table}

    def expression_ids(self, path: Path, spec: dict, name: str) -> list[str] | None:
        """Sample ids of one expression file from its header and first column (None: broken)."""
        options = {k: spec[k] for k in ("delimiter", "decimal", "sheet") if k in spec}
        try:
            header = [str(h).strip() for h in
                      read_strings(path, header=False, nrows=1, **options).iloc[0].tolist()]
        except (Her2AtlasError, ValueError, OSError) as exc:
            self.add(Her2AtlasError(f"cannot read the header: {exc}", file=str(path),
                                    field="expression.files"))
            return None
        key = spec.get("gene_column") or header[0]
        if key not in header:
            self.add(Her2AtlasError(f"gene_column {key!r} is not in the header of {name}",
                                    file=self.file, field="expression.gene_column"),
                     fix=columns_fix(key, header))
            return None
        repeated = sorted({h for h in header if header.count(h) > 1})
        if repeated:
            self.add(Her2AtlasError(f"column(s) {repeated} occur more than once in the header",
                                    file=str(path), field="expression columns",
                                    fix="remove the duplicated sample (or gene) columns"))
        drop = set(spec.get("drop_columns", [])) | {key}
        columns = [h for h in header if h not in drop]
        by_genes = spec.get("orientation", "genes_by_samples") == "genes_by_samples"
        # genes in rows: a few thousand row ids suffice to see whether samples are there
        rows = read_strings(path, usecols=[header.index(key)],
                            nrows=ORIENTATION_ROWS if by_genes else None,
                            **options).iloc[:, 0].astype(str).str.strip().tolist()
        self.axes[name] = (columns, rows)
        return columns if by_genes else rows

    # ---- clinical tables -------------------------------------------------------------------
    def tables(self, samples: pd.Index | None, extra: dict[str, pd.DataFrame]
               ) -> dict[str, pd.DataFrame]:
        """Read and index every clinical table; join each to the samples when they are known."""
        tables = {name: relabel(t) for name, t in extra.items()}
        for name, spec in self.m.get("clinical", {}).get("tables", {}).items():
            indexed = self.read_table(name, spec)
            if indexed is None:
                self.broken_tables.add(name)
                continue
            if samples is not None:
                indexed = self.join(name, spec, indexed, samples, tables)
                if indexed is None:
                    self.broken_tables.add(name)
                    continue
            tables[name] = indexed
        if samples is not None:
            tables[cohort.SAMPLE_TABLE] = pd.DataFrame({"sample_id": samples}, index=samples)
        return tables

    def read_table(self, name: str, spec: dict) -> pd.DataFrame | None:
        path = self.located.get(spec["file"])
        if path is None:
            return None
        try:
            raw = clinical.read_table_spec(path, spec)
        except (Her2AtlasError, ValueError, OSError) as exc:
            self.add(Her2AtlasError(f"cannot read table {name!r}: {exc}", file=str(path),
                                    field=f"clinical.tables.{name}"))
            return None
        if spec["id_column"] not in raw.columns:
            self.add(Her2AtlasError(f"id column {spec['id_column']!r} not in {spec['file']}",
                                    file=self.file, field=f"clinical.tables.{name}.id_column"),
                     fix=columns_fix(spec["id_column"], raw.columns))
            return None
        try:
            indexed, _ = clinical.index_table(
                raw, id_column=spec["id_column"], id_length=spec.get("id_length"),
                duplicate_ids=spec.get("duplicate_ids", "error"), file=str(path))
        except Her2AtlasError as exc:
            self.add(exc)
            return None
        self.raw_tables[name] = raw
        return indexed

    def join(self, name: str, spec: dict, indexed: pd.DataFrame, samples: pd.Index,
             tables: dict[str, pd.DataFrame]) -> pd.DataFrame | None:
        """The table's rows for the samples (patient tables joined), or None with a finding."""
        if spec.get("sample_id_length"):
            cut = samples.str.slice(0, spec["sample_id_length"])
            joined = indexed.reindex(cut).set_axis(samples)
            joined = joined[joined.notna().any(axis=1)]
        elif spec.get("via"):
            if spec["via"]["table"] not in tables:
                return None  # the via table is broken or missing: reported there
            try:
                joined = cohort.join_via(indexed, tables, samples, spec["via"], name, self.file)
            except Her2AtlasError as exc:
                self.add(exc)
                return None
        else:
            joined = indexed
        if samples.isin(joined.index).any():
            return joined
        self.no_match(name, spec, indexed, samples)
        return None

    def no_match(self, name: str, spec: dict, indexed: pd.DataFrame, samples: pd.Index) -> None:
        """No clinical id matches a sample: guess the orientation, or the right id column."""
        self.ids_unmatched = True
        ids = set(map(str, indexed.index))
        if not spec.get("via") and not spec.get("sample_id_length"):
            for file_name, (columns, rows) in self.axes.items():
                declared = self.m["expression"].get("orientation", "genes_by_samples")
                other = rows if declared == "genes_by_samples" else columns
                hits = len(ids & set(other))
                if hits:
                    axis = "rows" if declared == "genes_by_samples" else "columns"
                    self.add(Her2AtlasError(
                        f"the ids of clinical table {name!r} are the {axis} of {file_name} "
                        f"({hits} match), not its {'columns' if axis == 'rows' else 'rows'}",
                        file=self.file, field="expression.orientation",
                        fix=f"set expression.orientation: {OTHER[declared]}"),
                        found=f"orientation: {declared}")
                    return
        raw = self.raw_tables.get(name)
        best = ""
        if raw is not None:
            wanted = set(map(str, samples))
            hits = {c: int(raw[c].astype(str).str.strip().isin(wanted).sum()) for c in raw.columns}
            column = max(hits, key=hits.get) if hits else None
            if column is not None and hits[column]:
                best = f"column {column!r} holds {hits[column]} of the sample ids: set id_column: " \
                       f"{column}; "
        example = next(iter(indexed.index), "(empty)")
        self.add(Her2AtlasError(
            f"no id of table {name!r} matches an expression sample id", file=self.file,
            field=f"clinical.tables.{name}.id_column"),
            found=f"clinical {example!r} vs expression {samples[0] if len(samples) else '-'!r}",
            fix=f"{best}check id_column / id_length / sample_id_length so that the ids match")

    # ---- fields and counts -----------------------------------------------------------------
    def fields(self, tables: dict[str, pd.DataFrame], samples: pd.Index) -> pd.DataFrame:
        """Map every field on its own; broken ones give a finding and are left out."""
        spec_all = self.m.get("clinical", {})
        missing = set(clinical.MISSING_TOKENS) | set(spec_all.get("missing") or [])
        obs = pd.DataFrame(index=pd.Index(samples, name=None))
        fields = spec_all.get("fields", {})
        for field in clinical.STANDARD_FIELDS:
            spec = fields.get(field)
            if spec is None:
                continue
            if "table" in spec and spec["table"] not in tables:
                self.broken_fields.add(field)  # its table is missing or reported
                continue
            try:
                obs[field] = self.field_values(field, spec, tables, samples, missing)
            except Her2AtlasError as exc:
                self.broken_fields.add(field)
                self.add(exc, fix=self.geo_fix(exc, spec))
        self.pairs(fields)
        return obs

    def field_values(self, field, spec, tables, samples, missing) -> pd.Series:
        if field == "patient_id" and "table" in spec and any(
                cohort._is_template(v) for _, v in spec.get("regex", [])):
            return cohort.extract_patient_ids(tables, samples, spec, self.file)
        return clinical.field_values(field, spec, tables, samples, missing=missing,
                                     file=self.file)

    def geo_fix(self, exc: Her2AtlasError, spec: dict) -> str | None:
        """For a missing GEO column: list the characteristic keys first, then the rest."""
        if spec.get("table") != "geo" or "not in table" not in exc.message:
            return None
        column = spec.get("column", "")
        return columns_fix(column, self.geo_columns, characteristic_keys=self.characteristic_keys)

    def pairs(self, fields: dict) -> None:
        for endpoint in clinical.ENDPOINTS:
            time, event = f"{endpoint}_time", f"{endpoint}_event"
            if (time in fields) != (event in fields):
                absent = event if time in fields else time
                self.add(Her2AtlasError(f"{endpoint} needs both time and event", file=self.file,
                                        field=f"clinical.fields.{absent}",
                                        fix=f"declare {absent}"))

    def counts(self, obs: pd.DataFrame) -> None:
        """Compare ``expected`` with the counts of the mapped fields (keys of broken fields skipped)."""
        expected = self.m.get("expected") or {}
        filters = self.m.get("sample_filter") or {}
        blockers = set(filters) | ({"patient_id"} if self.m.get("replicates") else set())
        if (not expected or self.ids_unmatched or blockers & self.broken_fields
                or not set(filters) <= set(obs.columns)):  # undeclared filter: reported already
            return
        for endpoint in clinical.ENDPOINTS:  # a pair with a broken half is not counted
            pair = [f"{endpoint}_time", f"{endpoint}_event"]
            if set(pair) & self.broken_fields:
                obs = obs.drop(columns=[c for c in pair if c in obs])
        try:
            keep = cohort.apply_sample_filter(obs, filters, self.file)
            kept = obs[keep]
            _, kept, _, _, _ = cohort.collapse_replicates(
                pd.DataFrame(columns=kept.index), kept, self.m.get("replicates"),
                manifest_file=self.file)
        except Her2AtlasError as exc:
            self.add(exc)
            return
        self.compare(clinical.count_summary(kept), expected, "expected")

    def compare(self, found: dict[str, int], expected: dict[str, int], section: str) -> None:
        need = clinical.count_requirements()
        for key, want in expected.items():
            if key not in need or set(need[key]) & self.broken_fields:
                continue
            have = found.get(key)
            if have != want:
                self.findings.append(Finding(
                    self.cohort, self.file, section, f"{section}.{key}",
                    f"{section}.{key} is {want} but the data give {have}",
                    found=f"expected {want}, found {have}",
                    fix=f"if the data are right, set {section}.{key}: {have}; otherwise check "
                    f"the fields it counts ({', '.join(need[key]) or 'samples'})"))

    def clinical_counts(self) -> None:
        """``expected_clinical`` with the build's own function, on the located files."""
        expected = self.m.get("expected_clinical") or {}
        if not expected or self.broken_fields or self.broken_tables:
            return
        with tempfile.TemporaryDirectory() as tmp:
            for name, path in self.located.items():
                (Path(tmp) / name).symlink_to(path.resolve())
            try:
                found = cohort.clinical_only_counts(self.m["clinical"], Path(tmp), self.file)
            except Her2AtlasError as exc:
                self.add(exc)
                return
        self.compare(found, expected, "expected_clinical")

