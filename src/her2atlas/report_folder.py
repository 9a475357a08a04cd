"""The report folder holds only the current run's pages.

Snakemake replaces a rule's outputs but never deletes files a previous run wrote under other
names: after a config with other cohorts or signatures, the old ``cohort_*.html`` and
``signature_*.html`` pages would stay next to the new index (and be reachable from a browser).
"""

from __future__ import annotations

from pathlib import Path

#: Page names the report writes besides ``index.html`` (one per cohort and per signature).
PAGE_PATTERNS = ("cohort_*.html", "signature_*.html")


def remove_stale_pages(folder: str | Path, current: list[str | Path]) -> list[Path]:
    """Delete the per-cohort and per-signature pages in ``folder`` that this run did not write.

    Parameters
    ----------
    folder
        The report folder (``<results_dir>/report``).
    current
        The pages of this run (the report rule's outputs).

    Returns
    -------
    list of Path
        The pages removed, sorted.
    """
    keep = {Path(p).resolve() for p in current}
    stale = sorted(p for pattern in PAGE_PATTERNS for p in Path(folder).glob(pattern)
                   if p.resolve() not in keep)
    for page in stale:
        page.unlink()
    return stale
