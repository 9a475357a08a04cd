"""Write a drafted manifest as commented YAML: why each field was chosen, what to review, and a
tally of every raw key at the end."""

from __future__ import annotations

import yaml

from .draft import Draft

WIDTH = 100


def _dump(value, *, flow: bool | None = None, width: int = WIDTH) -> str:
    return yaml.safe_dump(value, sort_keys=False, allow_unicode=True, width=width,
                          default_flow_style=flow)


def _comment(text: str, indent: str) -> list[str]:
    return [f"{indent}# {line}" for line in text.replace("\r", " ").split("\n")]


def _field_lines(draft: Draft) -> list[str]:
    lines = ["  fields:"]
    for p in draft.proposals:
        lines += _comment(p.why, "    ")
        if p.ambiguous:
            listed = ", ".join(f"{v!r} ({n})" for v, n in p.ambiguous.items())
            lines += _comment(f"REVIEW: mapped to null (unknown) until decided: {listed}", "    ")
        one_line = _dump({p.field: p.spec}, flow=True, width=10**6).strip()[1:-1]
        if len(one_line) + 4 <= WIDTH:
            lines.append(f"    {one_line}")
        else:
            block = _dump({p.field: p.spec}, flow=None).rstrip("\n").split("\n")
            lines += [f"    {line}" for line in block]
    return lines


def _section(key: str, value) -> list[str]:
    return _dump({key: value}, flow=False).rstrip("\n").split("\n")


def render(draft: Draft) -> str:
    """The manifest text: sections in schema order, comments above each proposed field."""
    m = draft.manifest
    lines = [f"# DRAFT written by `her2atlas draft` from {draft.label}.",
             "# Every guess is listed under `unverified:`; values marked REVIEW are mapped to null",
             "# (unknown) until you decide. Check each field and the expected counts, then delete",
             "# this header. The tally of every raw key is at the end of the file."]
    for key, value in m.items():
        if key == "clinical":
            lines.append("clinical:")
            if "tables" in value:
                lines += ["  " + line for line in _section("tables", value["tables"])]
            lines += _field_lines(draft)
        elif key == "unverified":
            lines.append("unverified: |-")
            lines += [f"  {line}" for line in value.replace("\t", " ").split("\n")]
        else:
            lines += _section(key, value)
    lines.append("")
    lines.append("# Tally of every raw key (values by frequency; missing = the pipeline's missing "
                 "tokens):")
    for t in draft.tallies:
        lines.append("#   " + t.describe().replace("\n", " "))
    return "\n".join(lines) + "\n"
