"""GEO-format FIXTURES built by the tests (not real data): a series matrix and a platform file.

The layout follows GEO's real files: quoted, tab-separated ``!Series_``/``!Sample_`` lines,
several ``!Sample_characteristics_ch1`` rows whose keys vary by sample, a key containing ': '
(as in GSE42822), missing codes ('---', empty), a quoted value with a tab inside, and the data
table between ``!series_matrix_table_begin`` and ``!series_matrix_table_end``.
"""

from __future__ import annotations

import gzip

import numpy as np

GSE = "GSE99001"
GPL = "GPL99002"
N_SAMPLES = 12
GENES = ["IL6", "STAT3", "JAK1", "JAK2", "SOCS3", "IL6R", "IL6ST", "NFKB1", "RELA", "ERBB2",
         "GRB7", "ESR1", "GATA3", "MKI67", "GZMA", "PRF1"] + [f"FIX{i}" for i in range(60)]


def sample_ids() -> list[str]:
    return [f"GSM99{i:04d}" for i in range(N_SAMPLES)]


def series_matrix_text(*, unlogged: bool = False) -> str:
    """A series matrix with characteristics traps; pCR for odd samples, arm H for the first 8."""
    ids = sample_ids()
    q = lambda values: "\t".join(f'"{v}"' for v in values)  # noqa: E731
    her2 = ["her2.status (1: positive, 0: negative): 1"] * 10 + [
        "her2.status (1: positive, 0: negative): 0", "her2.status (1: positive, 0: negative): NA"]
    arm = ["treatment: FEC/TX+H"] * 8 + ["treatment: FEC/TX"] * 4
    pcr = [f"pcr: {'pCR' if i % 2 else 'RD'}" for i in range(N_SAMPLES)]
    pcr[3] = "pcr: ---"
    # a row whose key differs by sample (timepoint on some, tissue on others)
    mixed = ["timepoint: baseline" if i < 11 else "tissue: normal breast" for i in range(12)]
    tabbed = q(["breast tumour\twith tab"] * N_SAMPLES)
    lines = [
        '!Series_title\t"FIXTURE series for her2atlas tests"',
        f'!Series_geo_accession\t"{GSE}"',
        f'!Series_platform_id\t"{GPL}"',
        f'!Sample_title\t{q([f"FIX tumour {i}" for i in range(N_SAMPLES)])}',
        f'!Sample_geo_accession\t{q(ids)}',
        f"!Sample_source_name_ch1\t{tabbed}",
        f'!Sample_characteristics_ch1\t{q(her2)}',
        f'!Sample_characteristics_ch1\t{q(arm)}',
        f'!Sample_characteristics_ch1\t{q(pcr)}',
        f'!Sample_characteristics_ch1\t{q(mixed)}',
        f'!Sample_characteristics_ch1\t{q([""] * N_SAMPLES)}',
        f'!Sample_data_processing\t{q(["RMA"] * N_SAMPLES)}',
        "!series_matrix_table_begin",
        "\t".join(['"ID_REF"'] + [f'"{s}"' for s in ids]),
    ]
    rng = np.random.default_rng(0)
    for j in range(len(GENES)):
        for probe in range(2 if j < 4 else 1):  # the first genes have two probes
            values = rng.normal(7 + probe, 1, N_SAMPLES)
            if unlogged:
                values = np.exp2(values)
            lines.append("\t".join([f'"{j:04d}_{probe}_at"'] + [f"{v:.4f}" for v in values]))
    lines.append('"AFFX-CONTROL"\t' + "\t".join(["8.0"] * N_SAMPLES))
    lines.append("!series_matrix_table_end")
    return "\n".join(lines) + "\n"


def annot_text() -> str:
    """A GEO .annot-style platform table (probe → 'Gene symbol'), one multi-gene probe."""
    rows = ["^Annotation", f"!Annotation_platform = {GPL}", "!platform_table_begin",
            "ID\tGene title\tGene symbol"]
    for j, gene in enumerate(GENES):
        for probe in range(2 if j < 4 else 1):
            symbol = gene if not (j == 5 and probe == 0) else f"{gene} /// OTHER"
            rows.append(f"{j:04d}_{probe}_at\t{gene} title\t{symbol}")
    rows.append("AFFX-CONTROL\tcontrol\t")
    rows.append("!platform_table_end")
    return "\n".join(rows) + "\n"


def gz(text: str) -> bytes:
    return gzip.compress(text.encode(), mtime=0)
