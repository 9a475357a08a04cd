"""The one fetch layer: local mirrors first, then download; checksummed, atomic, resumable.

Every file a cohort or the signature catalogue needs goes through :func:`fetch_file`.
It looks for the file under the configured data roots (offline mirrors such as
``../shared/data``), otherwise downloads it, and always

* writes to a temporary file and renames it into place, so ``data/raw/`` never holds a partial file;
* checks gzip integrity for ``.gz`` files;
* verifies the sha256 given in the manifest, or records it at first fetch and verifies it later.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import shutil
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath

from .atomic import atomic_path, write_text
from .errors import Her2AtlasError

log = logging.getLogger(__name__)

ALLOWED_SCHEMES = ("https", "http", "file")
#: What to do when there is no network (a host name that does not resolve is not retried).
OFFLINE_FIX = ("no network: run offline with `make real` / `--configfile config/offline.yaml` "
               "(mirror in data_roots), or set allow_download: false")


def is_dns_failure(exc: BaseException) -> bool:
    """True when ``exc`` is a host name lookup failure (no network or no DNS): not retried."""
    reason = getattr(exc, "reason", None)
    return isinstance(exc, socket.gaierror) or isinstance(reason, socket.gaierror)
CHUNK = 1 << 20
RECORD_NAME = "checksums.json"


@dataclass(frozen=True)
class FetchedFile:
    """Where a fetched file came from and what it is."""

    name: str
    path: str
    source: str
    sha256: str
    bytes: int


def raise_if_offline(exc: BaseException, url: str) -> None:
    """Raise at once (no retry) when ``exc`` says the host name cannot be resolved."""
    if is_dns_failure(exc):
        host = urllib.parse.urlsplit(url).hostname
        raise Her2AtlasError(f"cannot resolve host {host!r} ({getattr(exc, 'reason', exc)})",
                             field=url, fix=OFFLINE_FIX) from exc


def sha256_file(path: str | Path) -> str:
    """Return the hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def safe_relative(name: str, *, what: str = "file name") -> PurePosixPath:
    """Check that ``name`` is a relative path that cannot leave its directory.

    Raises
    ------
    Her2AtlasError
        If the name is absolute, contains ``..`` or is empty.
    """
    rel = PurePosixPath(name)
    if not name or rel.is_absolute() or ".." in rel.parts or "\\" in name or name.startswith("~"):
        raise Her2AtlasError(
            f"{what} {name!r} is not a safe relative path",
            field=what,
            fix="use a path relative to a data root, without '..' or a leading '/'",
        )
    return rel


def find_in_roots(rel_path: str, data_roots: list[str | Path]) -> Path | None:
    """Return the first existing ``root/rel_path`` among the data roots, or None."""
    rel = safe_relative(rel_path, what="path")
    for root in data_roots:
        candidate = Path(root) / rel
        if candidate.is_file():
            return candidate
    return None


def check_gzip(path: str | Path) -> None:
    """Read a gzip file to the end; raise :class:`Her2AtlasError` if it is truncated or corrupt."""
    try:
        with gzip.open(path, "rb") as handle:
            while handle.read(CHUNK):
                pass
    except (OSError, EOFError, zlib.error) as exc:
        raise Her2AtlasError(
            f"gzip data is truncated or corrupt ({exc})",
            file=str(path),
            fix="the download was incomplete; run again to re-download",
        ) from exc


def _progress(done: int, total: int | None, label: str, last: list[float]) -> None:
    now = time.monotonic()
    if now - last[0] < 1.0 and (total is None or done < total):
        return
    last[0] = now
    if total:
        msg = f"\r  {label}: {done / 1e6:8.1f} / {total / 1e6:.1f} MB ({100 * done / total:5.1f}%)"
    else:
        msg = f"\r  {label}: {done / 1e6:8.1f} MB"
    print(msg, end="", file=sys.stderr, flush=True)


def download(
    url: str,
    dest: str | Path,
    *,
    retries: int = 5,
    backoff: float = 1.0,
    timeout: float = 60.0,
    progress: bool = True,
) -> Path:
    """Download ``url`` to ``dest`` atomically, with retries, backoff and resume.

    Parameters
    ----------
    url
        An ``https``, ``http`` or ``file`` URL.
    dest
        Final path; it only appears once the whole body has arrived.
    retries
        Attempts after the first on connection errors, stalls, HTTP 5xx and 429.
    backoff
        First wait in seconds; doubled after each failed attempt.
    timeout
        Seconds without data before a connection counts as stalled.
    progress
        Print a progress line to stderr.

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    Her2AtlasError
        On a disallowed scheme, a 4xx answer (other than 429) or when retries are exhausted.
    """
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise Her2AtlasError(
            f"URL scheme {scheme!r} is not allowed",
            field=url,
            fix=f"use one of: {', '.join(ALLOWED_SCHEMES)}",
        )
    dest = Path(dest)
    label = dest.name
    with atomic_path(dest) as part:
        attempt = 0
        wait = backoff
        while True:
            have = part.stat().st_size if part.exists() else 0
            request = urllib.request.Request(url, headers={"User-Agent": "her2atlas"})
            if have and scheme != "file":
                request.add_header("Range", f"bytes={have}-")
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    status = getattr(response, "status", 200) or 200
                    resumed = status == 206
                    length = response.headers.get("Content-Length")
                    total = (int(length) + (have if resumed else 0)) if length else None
                    mode = "ab" if resumed else "wb"
                    done = have if resumed else 0
                    last = [0.0]
                    with open(part, mode) as out:
                        while block := response.read(CHUNK):
                            out.write(block)
                            done += len(block)
                            if progress:
                                _progress(done, total, label, last)
                    if total is not None and done < total:
                        raise ConnectionError(f"body ended after {done} of {total} bytes")
                if progress:
                    print(file=sys.stderr)
                break
            except urllib.error.HTTPError as exc:
                if exc.code == 416 and have:  # range not satisfiable: start over
                    part.unlink()
                elif exc.code < 500 and exc.code != 429:
                    raise Her2AtlasError(
                        f"download failed with HTTP {exc.code} {exc.reason}",
                        field=url,
                        fix="check the URL in the manifest or config; the source may have moved",
                    ) from exc
                err: Exception = exc
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
                raise_if_offline(exc, url)
                err = exc
            else:  # pragma: no cover - loop exits via break
                continue
            attempt += 1
            if attempt > retries:
                raise Her2AtlasError(
                    f"download failed after {retries + 1} attempts: {err}",
                    field=url,
                    fix="check the network or use a local mirror via 'data_roots' in config.yaml",
                )
            log.warning("download of %s failed (%s); retry %d in %.1fs", url, err, attempt, wait)
            time.sleep(wait)
            wait *= 2
        if dest.name.endswith(".gz"):
            check_gzip(part)
    return dest


def _load_record(directory: Path) -> dict[str, dict]:
    record = directory / RECORD_NAME
    if record.is_file():
        return json.loads(record.read_text(encoding="utf-8"))
    return {}


def fetch_file(
    entry: dict,
    dest_dir: str | Path,
    *,
    data_roots: list[str | Path],
    allow_download: bool = True,
    context: str = "",
    progress: bool = True,
) -> FetchedFile:
    """Bring one declared file into ``dest_dir`` and verify its checksum.

    Parameters
    ----------
    entry
        A manifest file entry: ``name`` (file name in ``dest_dir``), optional ``path`` (relative
        path under a data root), optional ``url`` and optional ``sha256``.
    dest_dir
        ``data/raw/{cohort}/`` (or the signature cache).
    data_roots
        Local mirrors searched in order before any download.
    allow_download
        If false, a file missing from every data root is an error.
    context
        The manifest or config file, named in errors.
    progress
        Show download progress.

    Returns
    -------
    FetchedFile
        Name, path, source, sha256 and size.
    """
    dest_dir = Path(dest_dir)
    name = str(safe_relative(entry["name"], what="file name"))
    if "/" in name:
        raise Her2AtlasError(
            f"file name {name!r} must not contain '/'", file=context, field="files.name",
            fix="give a plain file name; the folder comes from 'path'",
        )
    dest = dest_dir / name
    expected = entry.get("sha256")
    recorded = _load_record(dest_dir).get(name, {}).get("sha256")
    source = "cache"
    if not dest.is_file():
        local = find_in_roots(entry["path"], data_roots) if entry.get("path") else None
        if local is not None:
            with atomic_path(dest) as part:
                shutil.copyfile(local, part)
            source = str(local)
        elif entry.get("url") and allow_download:
            download(entry["url"], dest, progress=progress)
            source = entry["url"]
        else:
            raise not_found_error(entry, data_roots, context=context)
    digest = sha256_file(dest)
    for want, what in ((expected, "manifest"), (recorded, f"{dest_dir / RECORD_NAME}")):
        if want and want != digest:
            if source != "cache":
                dest.unlink()
            raise Her2AtlasError(
                f"checksum mismatch for {name}: {what} says {want[:12]}…, file has {digest[:12]}…",
                file=str(dest),
                field="sha256",
                fix=(
                    f"delete {dest} to fetch it again; if the source changed on purpose, update"
                    " sha256 in the manifest"
                ),
            )
    size = dest.stat().st_size
    fetched = FetchedFile(name=name, path=str(dest), source=source, sha256=digest, bytes=size)
    record = _load_record(dest_dir)
    if record.get(name, {}).get("sha256") != digest:
        record[name] = {"sha256": digest, "bytes": size, "source": source}
        write_text(dest_dir / RECORD_NAME, json.dumps(record, indent=2, sort_keys=True) + "\n")
    return fetched


def not_found_error(entry: dict, data_roots: list[str | Path], *, context: str = ""
                    ) -> Her2AtlasError:
    """The error for a declared file that is in no data root (and cannot be downloaded).

    It names every place looked at (``root/path``), so a file in the wrong folder of a mirror
    can be moved to where it is looked for.
    """
    name = entry["name"]
    rel = entry.get("path")
    looked = [str(Path(r) / rel) for r in data_roots] if rel else []
    where = (f"looked for {rel!r} under every data root: {', '.join(looked)}" if looked else
             "no data root is configured" if rel else "the entry has no 'path'")
    if rel and rel.startswith("geo/"):
        fix = (f"put the file at <data root>/{rel} (GEO's own folder layout; see data/README.md"
               "), or allow downloads")
    elif rel:
        fix = (f"put the file at <data root>/{rel}, or add the folder that holds '{rel}' to "
               "'data_roots' in the config, or give a 'url' and allow downloads")
    else:
        fix = "give the entry a 'path' under a data root or a 'url'"
    if entry.get("url") and rel:
        fix += " (a url is declared: downloads are switched off by allow_download: false)"
    return Her2AtlasError(f"file {name!r} not found ({where})"
                          + ("" if entry.get("url") else "; no url is given"),
                          file=context, field=f"files.{name}", fix=fix)


def _came_from_mirror(source: str) -> bool:
    """A record's ``source`` is a data-root file (not a URL and not a file placed in the cache)."""
    return source != "cache" and "://" not in source


def _entry_signature(entry: dict, record: dict[str, dict], data_roots: list[str | Path]) -> str:
    name = entry["name"]
    if entry.get("sha256"):
        return f"{name} sha256:{entry['sha256']}"
    origin = f"{name} from:{entry.get('url') or entry.get('path')}"
    fetched = record.get(name)
    if fetched:  # the cache is authoritative once fetched: data roots are not looked at again
        return f"{name} sha256:{fetched['sha256']}" if _came_from_mirror(
            fetched.get("source", "")) else origin
    local = find_in_roots(entry["path"], data_roots) if entry.get("path") else None
    return f"{name} sha256:{sha256_file(local)}" if local is not None else origin


def content_signature(entries: list[dict], dest_dir: str | Path, *,
                      data_roots: list[str | Path]) -> list[str]:
    """What a fetch job's files are, independent of where they are found.

    Snakemake reruns a job whose params change; giving the fetch job this signature instead of
    the data roots means that adding, removing or reordering a data root reruns no cohort whose
    files it does not change. One line per declared file (and fallback), in manifest order:

    * ``name sha256:<hex>`` -- the manifest's checksum; else the checksum recorded when the file
      was copied from a data root; else, not fetched yet, the checksum of the data-root file it
      will be copied from (so the signature is the same before and after the fetch);
    * ``name from:<url or path>`` -- a file downloaded (or to be downloaded), or placed in the
      cache by the cBioPortal client: its declared origin.

    Parameters
    ----------
    entries
        Manifest file entries (``name``, optional ``path``, ``url``, ``sha256``, ``fallback``).
    dest_dir
        The cache folder the fetch job writes (``data/raw/{cohort}/``).
    data_roots
        Local mirrors, searched in order as :func:`fetch_file` does.

    Returns
    -------
    list of str
        The signature, stable across runs while the files' content is unchanged.
    """
    record = _load_record(Path(dest_dir))
    lines = []
    for entry in entries:
        lines.append(_entry_signature(entry, record, data_roots))
        if entry.get("fallback"):
            lines.append(_entry_signature(entry["fallback"], record, data_roots))
    return lines


def fetch_all(
    entries: list[dict],
    dest_dir: str | Path,
    *,
    data_roots: list[str | Path],
    allow_download: bool = True,
    context: str = "",
) -> list[dict]:
    """Fetch every entry; return their records as plain dicts (for JSON).

    An entry may carry a ``fallback`` entry (e.g. GEO's full SOFT table when a platform has no
    ``.annot`` file), fetched instead when the entry is missing everywhere or answers 404.
    """
    records = []
    for entry in entries:
        fallback = entry.get("fallback")
        plain_entry = {k: v for k, v in entry.items() if k != "fallback"}
        try:
            records.append(asdict(fetch_file(plain_entry, dest_dir, data_roots=data_roots,
                                             allow_download=allow_download, context=context)))
        except Her2AtlasError as exc:
            if fallback is None or ("HTTP 404" not in str(exc) and "not found" not in str(exc)):
                raise
            log.warning("%s unavailable (%s); using %s", entry["name"], exc.message,
                        fallback["name"])
            records.append(asdict(fetch_file(fallback, dest_dir, data_roots=data_roots,
                                             allow_download=allow_download, context=context)))
    return records


def fetch_cohort(manifest: dict, dest_dir: str | Path, *, data_roots: list[str | Path],
                 allow_download: bool = True, context: str = "",
                 cbioportal_url: str = "https://www.cbioportal.org") -> list[dict]:
    """Fetch every file of a cohort manifest, whatever its source kind.

    cBioPortal studies missing from the data roots are downloaded through the web API
    (:func:`her2atlas.cbioportal.fetch_study`) into ``dest_dir`` first; all files are then
    checksummed like any other.
    """
    dest_dir = Path(dest_dir)
    if manifest["source"]["kind"] == "cbioportal":
        entries = manifest["files"]
        missing = [e for e in entries if e["name"] in (
            "data_clinical_patient.txt", "data_clinical_sample.txt", "data_mrna.txt",
            "study.json") and not (dest_dir / e["name"]).is_file()
            and find_in_roots(e["path"], data_roots) is None]
        if missing:
            if not allow_download:
                raise Her2AtlasError(
                    f"cBioPortal study files {[e['name'] for e in missing]} not under any data root",
                    file=context, field="cbioportal.study",
                    fix="allow downloads or add a mirror holding cbioportal/<study>/ to data_roots")
            from .cbioportal import fetch_study

            spec = manifest["cbioportal"]
            fetch_study(spec["study"], dest_dir, base_url=cbioportal_url,
                        expression_profile=spec.get("profile", "mrna"))
    return fetch_all(manifest["files"], dest_dir, data_roots=data_roots,
                     allow_download=allow_download, context=context)
