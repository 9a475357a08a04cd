"""her2atlas: IL-6/JAK/STAT3 and stemness programmes vs trastuzumab response in HER2+ breast cancer.

The package holds all logic of the pipeline; the Snakemake workflow only wires files together.
Modules (one job each):

- :mod:`her2atlas.errors` – the one exception type users see, with file, field and fix.
- :mod:`her2atlas.atomic` – write-to-temp-then-rename helpers.
- :mod:`her2atlas.validation` – config and manifest validation against JSON-Schema.
- :mod:`her2atlas.fetch` – mirror lookup, download, checksums.
- :mod:`her2atlas.expression` – units to log2, symbol normalisation, duplicate collapse.
- :mod:`her2atlas.clinical` – raw fields to the standard clinical vocabulary.
- :mod:`her2atlas.cohort` – build the harmonised AnnData and check expected counts.
- :mod:`her2atlas.signatures` – GMT reading, the signature catalogue, coverage.
- :mod:`her2atlas.scoring` – per-sample signature scores.
- :mod:`her2atlas.stats` – association models; :mod:`her2atlas.meta` – meta-analysis.
- :mod:`her2atlas.report` – the self-contained HTML report.
- :mod:`her2atlas.demo` – the deterministic synthetic demo cohorts.
"""

__version__ = "0.1.0"
