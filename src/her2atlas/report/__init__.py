"""The HTML report: index, one page per cohort, one page per signature.

One builder per page kind (:mod:`.index_page`, :mod:`.cohort_page`, :mod:`.signature_page`),
shared tables (:mod:`.tables`), figures (:mod:`.plots`, :mod:`.cohort_plots`,
:mod:`.figure_store`), sentences (:mod:`.text`) and the evidence summary (:mod:`.evidence`);
:mod:`.build` writes it all into a staging folder and swaps it in. Pages and figures are local
files (nothing is fetched when the report is viewed); every string that comes from data is
HTML-escaped by Jinja2's autoescaping.
"""

from .build import build_report
from .evidence import EvidenceRule, evidence_table
from .plots import heatmap_table
from .tables import adjustment_table, fmt, read_results, to_table
from .text import primary_summary

__all__ = ["EvidenceRule", "adjustment_table", "build_report", "evidence_table", "fmt",
           "heatmap_table", "primary_summary", "read_results", "to_table"]
