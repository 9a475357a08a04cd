"""Read a text or Excel table as strings: declared or sniffed delimiter, declared decimal mark.

Every clinical table and expression matrix is read through :func:`read_strings`, so that a
manifest can say ``delimiter: ";"``, ``decimal: ","`` or ``sheet: Clinical`` (``.xlsx``) for
any file, and a file whose extension does not tell its delimiter is still read.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pandas as pd

from .errors import Her2AtlasError

#: Delimiters tried when the manifest declares none, after the one the extension suggests.
DELIMITERS = ("\t", ",", ";", "|")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
#: A number written with a decimal comma ('12,5', '-0,25', '1,5e-3').
COMMA_NUMBER = re.compile(r"^[+-]?\d*,\d+(?:[eE][+-]?\d+)?$")


def is_excel(path: str | Path) -> bool:
    """True for ``.xlsx`` / ``.xlsm`` files (read with openpyxl)."""
    return Path(path).name.lower().endswith(EXCEL_SUFFIXES)


def _open_text(path: Path):
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def leading_comment_lines(path: str | Path, comment: str | None) -> int:
    """Number of leading lines starting with ``comment`` (0 when there is no comment mark)."""
    if not comment:
        return 0
    skip = 0
    with _open_text(Path(path)) as handle:
        for line in handle:
            if not line.startswith(comment):
                break
            skip += 1
    return skip


def sniff_delimiter(path: str | Path, *, skip: int = 0) -> str:
    """The delimiter of a text table, from its header line.

    The extension's delimiter (``,`` for ``.csv``, tab otherwise) wins when the header holds
    it; otherwise the candidate of :data:`DELIMITERS` that occurs most often in the header
    (a ``.csv`` written with ``;`` by a spreadsheet in a decimal-comma locale, a ``.txt`` …).
    """
    path = Path(path)
    default = "," if path.name.lower().removesuffix(".gz").endswith(".csv") else "\t"
    with _open_text(path) as handle:
        for _ in range(skip):
            handle.readline()
        header = handle.readline()
    if default in header:
        return default
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=counts.get)
    return best if counts[best] else default


def comma_decimals_to_dots(frame: pd.DataFrame) -> pd.DataFrame:
    """'12,5' → '12.5' in every cell that is a number written with a decimal comma."""
    def fix(value):
        return value.replace(",", ".") if isinstance(value, str) and COMMA_NUMBER.match(
            value.strip()) else value
    return frame.map(fix)


def read_strings(path: str | Path, *, delimiter: str | None = None, decimal: str = ".",
                 sheet: str | int | None = None, comment: str | None = None,
                 header: bool = True, nrows: int | None = None,
                 usecols: list[int] | None = None) -> pd.DataFrame:
    """Read a table as strings (nothing turned into NA).

    Parameters
    ----------
    path
        ``.csv``/``.tsv``/``.txt`` (gzip allowed) or ``.xlsx``.
    delimiter
        The field delimiter; None = :func:`sniff_delimiter`.
    decimal
        ``.`` or ``,`` (numbers written ``12,5`` become ``12.5``).
    sheet
        Excel sheet name or 0-based index (default the first sheet).
    comment
        Leading lines starting with it are skipped (cBioPortal's ``#`` lines).
    header
        False: the first line is data (column labels are 0, 1, …).
    nrows, usecols
        Read only these rows / columns (cheap checks of big files).

    Returns
    -------
    pandas.DataFrame
        All cells as strings.
    """
    path = Path(path)
    if delimiter is not None and delimiter == decimal:
        raise Her2AtlasError(f"delimiter and decimal mark are both {delimiter!r}", file=str(path),
                             field="delimiter", fix="declare the file's real delimiter (often ';')")
    if is_excel(path):
        frame = _read_excel(path, sheet=sheet, header=header, nrows=nrows, usecols=usecols)
    else:
        skip = leading_comment_lines(path, comment)
        sep = delimiter or sniff_delimiter(path, skip=skip)
        frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, skiprows=skip,
                            header=0 if header else None, nrows=nrows, usecols=usecols)
    return comma_decimals_to_dots(frame) if decimal == "," else frame


def _read_excel(path: Path, *, sheet, header: bool, nrows, usecols) -> pd.DataFrame:
    try:
        import openpyxl  # noqa: F401  (pandas needs it for .xlsx)
    except ImportError as exc:  # pragma: no cover - openpyxl is a declared dependency
        raise Her2AtlasError("reading .xlsx needs openpyxl", file=str(path),
                             fix="pip install openpyxl (it is in requirements.lock)") from exc
    try:
        frame = pd.read_excel(path, sheet_name=0 if sheet is None else sheet, dtype=str,
                              header=0 if header else None, nrows=nrows, usecols=usecols)
    except ValueError as exc:  # unknown sheet name
        raise Her2AtlasError(f"cannot read sheet {sheet!r}: {exc}", file=str(path),
                             field="sheet", fix="name an existing sheet (or its 0-based index)"
                             ) from exc
    frame = frame.fillna("")
    frame.columns = [str(c) for c in frame.columns]
    return frame.map(lambda v: v.strip() if isinstance(v, str) else str(v))
