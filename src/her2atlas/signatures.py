"""Gene-set signatures: GMT files, the configured catalogue, and coverage in a cohort."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .errors import Her2AtlasError
from .expression import normalise_symbols


@dataclass
class Signature:
    """One gene set.

    Attributes
    ----------
    name
        Set name (e.g. ``HALLMARK_IL6_JAK_STAT3_SIGNALING``).
    genes
        Normalised symbols, duplicates removed, order kept.
    source
        Where it came from (collection file or ``project``).
    role
        ``hypothesis`` (IL-6/stemness), ``control`` or ``demo``.
    description
        One line for the report.
    """

    name: str
    genes: list[str]
    source: str = ""
    role: str = "hypothesis"
    description: str = ""
    down: list[str] = field(default_factory=list)
    weights: dict[str, float] | None = None

    @property
    def kind(self) -> str:
        """``weights`` for a weight vector (mRNAsi), ``set`` for a gene set."""
        return "weights" if self.weights is not None else "set"

    @property
    def size(self) -> int:
        """Number of genes (up + down, or weighted genes)."""
        return len(self.weights) if self.weights is not None else len(self.genes) + len(self.down)


def _dedupe(genes) -> list[str]:
    seen: dict[str, None] = {}
    for gene in normalise_symbols(genes):
        if gene and gene not in seen:
            seen[gene] = None
    return list(seen)


def read_gmt(path: str | Path) -> dict[str, tuple[str, list[str]]]:
    """Read a GMT file: name → (description, genes).

    Raises
    ------
    Her2AtlasError
        On a line with fewer than three tab-separated fields or a duplicated set name.
    """
    path = Path(path)
    sets: dict[str, tuple[str, list[str]]] = {}
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\n\r")
            if not line.strip():
                continue
            parts = line.split("\t")
            if len(parts) < 3 or not parts[0].strip():
                raise Her2AtlasError(
                    f"line {number} is not 'name<TAB>description<TAB>gene…'",
                    file=str(path), field=f"line {number}",
                    fix="GMT lines need a name, a description and at least one gene, tab-separated",
                )
            name = parts[0].strip()
            if name in sets:
                raise Her2AtlasError(f"set {name!r} occurs twice", file=str(path),
                                     field=f"line {number}", fix="remove the duplicate line")
            sets[name] = (parts[1].strip(), [g for g in parts[2:] if g.strip()])
    return sets


def write_gmt(signatures: list[Signature], path: str | Path) -> str:
    """Return (and write, if ``path``) the catalogue as GMT text."""
    lines = [f"{s.name}\t{s.description or s.source}\t" + "\t".join(s.genes) for s in signatures]
    text = "\n".join(lines) + "\n"
    if path:
        from .atomic import write_text
        write_text(path, text)
    return text


def read_weights(path: str | Path, *, gene_column: str, weight_column: str) -> dict[str, float]:
    """Read a gene-weight table (e.g. the Malta 2018 mRNAsi weights) as symbol → weight."""
    table = pd.read_csv(path, sep="\t" if not str(path).endswith(".csv") else ",")
    for column in (gene_column, weight_column):
        if column not in table.columns:
            raise Her2AtlasError(f"column {column!r} not found", file=str(path),
                                 field="signatures.weights",
                                 fix=f"columns are: {', '.join(map(str, table.columns))}")
    table = table.dropna(subset=[gene_column, weight_column])
    genes = normalise_symbols(table[gene_column])
    weights = pd.Series(table[weight_column].to_numpy(float), index=genes)
    weights = weights[~weights.index.duplicated(keep="first")]
    return weights.to_dict()


def build_catalogue(config_signatures: dict, collection_paths: dict[str, Path],
                    weight_paths: dict[str, Path] | None = None) -> list[Signature]:
    """Assemble the configured signatures.

    Parameters
    ----------
    config_signatures
        The ``signatures`` section of the config: ``collections`` (name → file entry),
        ``select`` (list of ``{collection, set, role}``) and ``custom`` (list of ``{name, genes,
        role, description}``).
    collection_paths
        Collection name → fetched GMT path.

    Returns
    -------
    list of Signature
        In config order: selected sets first, then custom sets.
    """
    out: list[Signature] = []
    loaded = {name: read_gmt(path) for name, path in collection_paths.items()}
    for item in config_signatures.get("select", []):
        collection = item["collection"]
        if collection not in loaded:
            raise Her2AtlasError(f"unknown collection {collection!r}", file="config.yaml",
                                 field="signatures.select.collection",
                                 fix=f"use one of: {', '.join(loaded)}")
        sets = loaded[collection]
        if item["set"] not in sets:
            raise Her2AtlasError(
                f"set {item['set']!r} not in collection {collection!r}", file="config.yaml",
                field="signatures.select.set", fix="check the spelling against the GMT file")
        description, genes = sets[item["set"]]
        down: list[str] = []
        if item.get("down_set"):
            if item["down_set"] not in sets:
                raise Her2AtlasError(
                    f"down set {item['down_set']!r} not in collection {collection!r}",
                    file="config.yaml", field="signatures.select.down_set",
                    fix="check the spelling against the GMT file")
            down = [g for g in _dedupe(sets[item["down_set"]][1]) if g not in set(_dedupe(genes))]
        out.append(Signature(item.get("name", item["set"]), _dedupe(genes), source=collection,
                             role=item.get("role", "hypothesis"),
                             description=item.get("description", description), down=down))
    for spec in config_signatures.get("custom") or []:
        out.append(Signature(spec["name"], _dedupe(spec["genes"]), source="project",
                             role=spec.get("role", "hypothesis"),
                             description=spec.get("description", "")))
    for spec in config_signatures.get("weights") or []:
        weights = read_weights((weight_paths or {})[spec["name"]],
                               gene_column=spec.get("gene_column", "gene"),
                               weight_column=spec.get("weight_column", "weight"))
        out.append(Signature(spec["name"], list(weights), source=spec.get("file", {}).get(
            "name", "weights"), role=spec.get("role", "hypothesis"),
            description=spec.get("description", ""), weights=weights))
    names = [s.name for s in out]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise Her2AtlasError(f"signature {dup!r} is configured twice", file="config.yaml",
                             field="signatures", fix="keep one")
    for sig in out:
        if not sig.genes:
            raise Her2AtlasError(f"signature {sig.name!r} has no genes", file="config.yaml",
                                 field=f"signatures.{sig.name}", fix="give at least one gene")
    return out


def catalogue_table(signatures: list[Signature]) -> pd.DataFrame:
    """One row per signature: name, kind, role, source, size, description, genes, down genes.

    Weight signatures list their genes and weights as ``gene:weight`` pairs.
    """
    def genes(s: Signature) -> str:
        if s.weights is not None:
            return ",".join(f"{g}:{w:.10g}" for g, w in s.weights.items())
        return ",".join(s.genes)

    return pd.DataFrame({
        "signature": [s.name for s in signatures],
        "kind": [s.kind for s in signatures],
        "role": [s.role for s in signatures],
        "source": [s.source for s in signatures],
        "size": [s.size for s in signatures],
        "description": [s.description for s in signatures],
        "genes": [genes(s) for s in signatures],
        "down_genes": [",".join(s.down) for s in signatures],
    })


def read_catalogue(path: str | Path) -> list[Signature]:
    """Read the catalogue TSV written by the ``signatures`` rule."""
    table = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    out = []
    for r in table.itertuples():
        if r.kind == "weights":
            pairs = [item.rsplit(":", 1) for item in r.genes.split(",")]
            weights = {g: float(w) for g, w in pairs}
            out.append(Signature(r.signature, list(weights), source=r.source, role=r.role,
                                 description=r.description, weights=weights))
        else:
            out.append(Signature(r.signature, r.genes.split(","), source=r.source, role=r.role,
                                 description=r.description,
                                 down=[g for g in r.down_genes.split(",") if g]))
    return out


def coverage(signatures: list[Signature], genes: pd.Index, *, min_coverage: float,
             min_genes: int = 3) -> pd.DataFrame:
    """Genes found / set size per signature, and whether it is scored.

    A set is scored when at least ``min_coverage`` of its genes and at least ``min_genes`` genes
    are present; otherwise ``reason`` says why not.
    """
    present = set(genes)
    rows = []
    for sig in signatures:
        members = sig.genes + sig.down
        found = [g for g in members if g in present]
        frac = len(found) / len(members)
        reason = ""
        if len(found) < min_genes:
            reason = f"only {len(found)} gene(s) present (minimum {min_genes})"
        elif frac < min_coverage:
            reason = f"coverage {frac:.0%} below the minimum {min_coverage:.0%}"
        rows.append({"signature": sig.name, "role": sig.role, "genes_in_set": len(members),
                     "genes_used": len(found), "coverage": round(frac, 4),
                     "scored": not reason, "reason": reason,
                     "missing_genes": "" if sig.weights is not None else
                     ",".join(g for g in members if g not in present)})
    return pd.DataFrame(rows)
