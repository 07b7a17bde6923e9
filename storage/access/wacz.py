"""WACZ packages: one per night, made with py-wacz, and checked when read.

:func:`create_wacz` runs py-wacz's own ``create`` command (``wacz.main.main``) on the night's
WARCs with the night's articles as ``pages/pages.jsonl`` (url, ts, title), writing the package
under a temporary name and renaming it when complete. :func:`validate_wacz` runs py-wacz's
``validate``. :func:`check_wacz` checks a package from any tool without py-wacz's limits (it
also reads WACZ 1.0 packages and verifies signatures): the datapackage, every listed file's hash,
the datapackage digest and signature, and every WARC inside, record by record, with
:mod:`opeds.storage.warc.reader`. Problems are :class:`WaczError` (a
:class:`~opeds.storage.warc.reader.WarcReadError`).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import warnings
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, BinaryIO, cast

from opeds.storage.stores.base import Store
from opeds.storage.warc.errors import Problem, WarcReadError
from opeds.storage.warc.reader import RecordInfo, iter_records
from opeds.storage.warc.validator import check_stream

WARC_NAMES = (".warc", ".warc.gz", ".arc", ".arc.gz")
INDEX_MEMBER = "indexes/index.cdx"
"""The replay index opeds puts in its packages, in place of py-wacz's."""
PAGES_HEADER = {"format": "json-pages-1.0", "id": "pages", "title": "Pages"}
COPY_CHUNK = 1 << 20
"""Bytes copied at a time between packages."""


class WaczError(WarcReadError):
    """A WACZ package is invalid or could not be made."""

    code = "wacz"


@dataclass(frozen=True)
class Page:
    """One entry of ``pages/pages.jsonl``: an article of the night."""

    url: str
    ts: datetime
    """The capture time of the page's response record (its WARC-Date)."""
    title: str | None = None

    def to_json(self) -> str:
        ts = self.ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        entry: dict[str, str] = {"url": self.url, "ts": ts}
        if self.title:
            entry["title"] = self.title
        return json.dumps(entry, ensure_ascii=False)


@dataclass(frozen=True)
class WaczResult:
    path: Path
    warcs: int
    pages: int
    unmatched_pages: list[str] = field(default_factory=list)
    """Pages given that py-wacz found no capture for (left out of the package)."""


def night_wacz_key(night: date) -> str:
    return f"wacz/{night:%Y/%m/%d}/night-{night:%Y-%m-%d}.wacz"


def write_pages_jsonl(pages: Iterable[Page], path: Path, *, title: str = "Pages") -> int:
    """Write a ``pages.jsonl`` (header line, then one page per line); returns the page count."""
    count = 0
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        out.write(json.dumps({**PAGES_HEADER, "title": title}) + "\n")
        for page in pages:
            out.write(page.to_json() + "\n")
            count += 1
    return count


def _run_py_wacz(args: list[str]) -> tuple[int, str]:
    """Run py-wacz's command line in-process; (exit code, what it printed)."""
    from wacz.main import main  # imported here: py-wacz pulls in frictionless

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        try:
            code = main(args)
        except SystemExit as e:  # argparse errors
            code = int(e.code or 1) if not isinstance(e.code, str) else 1
    return int(code or 0), printed.getvalue()


def create_wacz(
    warcs: Sequence[Path],
    out: Path,
    *,
    pages: Iterable[Page],
    title: str,
    description: str | None = None,
    replay_index: bool = True,
) -> WaczResult:
    """Package ``warcs`` into ``out`` with py-wacz; ``pages`` become ``pages/pages.jsonl``.

    With ``replay_index`` (the default) py-wacz's index is replaced by the project's replay index
    (:func:`replace_index`). The package is written as ``<out>.part`` and renamed to ``out``
    once complete.
    """
    if not warcs:
        raise WaczError(out.name, 0, "no WARC files to package")
    names = [Path(w).name for w in warcs]
    if len(set(names)) != len(names):
        raise WaczError(out.name, 0, "two WARC files have the same name; WACZ keeps file names")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    with tempfile.TemporaryDirectory(prefix="opeds-wacz-") as tmpdir:
        pages_path = Path(tmpdir) / "pages.jsonl"
        page_count = write_pages_jsonl(pages, pages_path, title=title)
        args = ["create", "-o", str(tmp), "-p", str(pages_path), "--title", title]
        if description:
            args += ["--desc", description]
        args += [str(w) for w in warcs]
        try:
            code, printed = _run_py_wacz(args)
        except Exception as e:  # py-wacz raises plain exceptions on unreadable input
            tmp.unlink(missing_ok=True)
            raise WaczError(out.name, 0, f"py-wacz could not package the WARCs: {e}") from e
        if code != 0 or not tmp.is_file():
            tmp.unlink(missing_ok=True)
            last = printed.strip().splitlines()[-1:] or ["(no output)"]
            raise WaczError(out.name, 0, f"py-wacz create failed: {last[0]}")
        if replay_index:
            from opeds.storage.access.cdxj import merge_indexes, write_cdxj

            parts = []
            for w in warcs:
                buf = io.StringIO()
                write_cdxj(Path(w), buf, filename=Path(w).name)
                parts.append(io.StringIO(buf.getvalue()))
            merged = io.StringIO()
            merge_indexes(parts, merged)
            packaged = Path(tmpdir) / "packaged.wacz"
            os.replace(tmp, packaged)
            with open(tmp, "wb") as fh:
                replace_index(packaged, fh, merged.getvalue())
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    unmatched = re.findall(r"unable to find a match for (\S+)", printed)
    return WaczResult(out, len(warcs), page_count - len(unmatched), unmatched)


def replace_index(
    src: Path,
    dst: BinaryIO,
    replay_index: str,
    *,
    members: dict[str, bytes] | None = None,
    package: dict[str, Any] | None = None,
) -> None:
    """Copy the WACZ ``src`` to ``dst`` with :data:`INDEX_MEMBER` as its only index.

    py-wacz indexes every record, metadata records and 304 revisits included, so a replay tool
    given a URL and a time may serve the JSON metadata record or an empty 304 instead of the page.
    ``replay_index`` (CDXJ from :func:`opeds.storage.access.cdxj.write_cdxj`, which leaves those
    out) takes the place of ``index.cdx.gz``/``index.idx``; the records all stay in the WARCs.
    ``members`` are added files, ``package`` extra top-level keys of ``datapackage.json``;
    ``datapackage.json`` and ``datapackage-digest.json`` are rewritten to match. Other members are
    copied as they are.
    """
    added = {INDEX_MEMBER: replay_index.encode("utf-8"), **(members or {})}
    with zipfile.ZipFile(src) as zin:
        doc = json.loads(zin.read("datapackage.json"))
        dropped = {n for n in zin.namelist() if n.startswith("indexes/")} | set(added)
        resources = [r for r in doc.get("resources", []) if r.get("path") not in dropped]
        for name, data in added.items():
            resources.append(
                {
                    "name": name.rsplit("/", 1)[-1],
                    "path": name,
                    "hash": f"sha256:{hashlib.sha256(data).hexdigest()}",
                    "bytes": len(data),
                }
            )
        doc["resources"] = sorted(resources, key=lambda r: str(r.get("path")))
        doc.update(package or {})
        raw_package = json.dumps(doc, ensure_ascii=False, indent=2).encode("utf-8")
        digest_doc = {
            "path": "datapackage.json",
            "hash": f"sha256:{hashlib.sha256(raw_package).hexdigest()}",
        }
        stamp = zin.getinfo("datapackage.json").date_time
        with zipfile.ZipFile(dst, "w") as zout:
            for info in zin.infolist():
                if info.filename in dropped or info.filename.startswith("datapackage"):
                    continue
                if info.is_dir():
                    zout.writestr(info, b"")
                    continue
                # streamed: a member (a night's WARC) may be larger than memory allows; the
                # entry is written as writestr would (same header, sizes and CRC)
                with zin.open(info) as fh, zout.open(info, "w") as out:
                    shutil.copyfileobj(fh, out, COPY_CHUNK)
            for name, data in (
                *added.items(),
                ("datapackage.json", raw_package),
                ("datapackage-digest.json", json.dumps(digest_doc, indent=2).encode()),
            ):
                zi = zipfile.ZipInfo(name, stamp)
                zi.compress_type = zipfile.ZIP_DEFLATED
                zout.writestr(zi, data)


def create_night_wacz(
    store: Store, night: date, pages: Iterable[Page], *, title: str | None = None
) -> WaczResult:
    """Package the night's WARCs (``warcs/YYYY/MM/DD/``) into :func:`night_wacz_key`."""
    keys = [k for k in store.list(f"warcs/{night:%Y/%m/%d}/") if k.endswith(WARC_NAMES)]
    key = night_wacz_key(night)
    with tempfile.TemporaryDirectory(prefix="opeds-wacz-") as tmpdir:
        paths: list[Path] = []
        for k in keys:
            local = store.local_path(k)
            if local is None or not local.is_file():
                local = Path(tmpdir) / "warcs" / Path(k).name
                local.parent.mkdir(exist_ok=True)
                with store.open(k) as src, open(local, "wb") as dst:
                    while chunk := src.read(1024 * 1024):
                        dst.write(chunk)
            paths.append(local)
        out = Path(tmpdir) / Path(key).name
        result = create_wacz(
            paths, out, pages=pages, title=title or f"Op-eds archived on {night:%Y-%m-%d}"
        )
        store.put_file(out, key)
    return WaczResult(Path(key), result.warcs, result.pages, result.unmatched_pages)


def validate_wacz(path: Path) -> None:
    """Run py-wacz's ``validate``; raise :class:`WaczError` with its reason if it fails."""
    try:
        code, printed = _run_py_wacz(["validate", "-f", str(path)])
    except Exception as e:  # py-wacz raises on packages it cannot open
        raise WaczError(path.name, 0, f"py-wacz validate could not read the package: {e}") from e
    if code != 0:
        lines = [ln.strip() for ln in printed.splitlines() if ln.strip()]
        reasons = [ln for ln in lines if not ln.startswith(("Version detected", "Validation"))]
        raise WaczError(path.name, 0, "py-wacz validate failed: " + "; ".join(reasons[:3]))


def verify_wacz(path: Path, *, check_digests: bool = True) -> None:
    """Raise the first problem of a package (see :func:`check_wacz`) as one clear error."""
    for problem in check_wacz(path, check_digests=check_digests):
        raise problem.exception()


def iter_wacz_records(path: Path, *, strict: bool = True) -> Iterator[RecordInfo]:
    """Records of every WARC in a package, named ``<package>#archive/<warc>``."""
    with zipfile.ZipFile(path) as zf:
        for member in sorted(zf.namelist()):
            if member.startswith("archive/") and member.endswith(WARC_NAMES):
                with zf.open(member) as fh:
                    yield from iter_records(
                        cast(BinaryIO, fh), name=f"{path.name}#{member}", strict=strict
                    )


# ---------------------------------------------------------------------------------------------
# Checking a package


def _resource_hash(res: dict[str, Any]) -> tuple[str | None, str | None, int | None]:
    """(algorithm, hex digest, size) of a datapackage resource, WACZ 1.1 or 1.0 style."""
    stats = res.get("stats") or {}
    value = res.get("hash") or stats.get("hash")
    size = res.get("bytes", stats.get("bytes"))
    if not value:
        return None, None, size
    if ":" in value:
        algo, digest = value.split(":", 1)
    else:
        algo, digest = res.get("hashing") or stats.get("hashing") or "sha256", value
    return algo.lower(), digest.lower(), size


def _hash_member(zf: zipfile.ZipFile, member: str, algo: str) -> tuple[str, int]:
    h = hashlib.new(algo)
    size = 0
    with zf.open(member) as fh:
        while chunk := fh.read(1024 * 1024):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _check_signature(signed: dict[str, Any], digest: str) -> str | None:
    """What is wrong with a datapackage-digest ``signedData`` (authsign), if anything.

    Checks that it signs this datapackage's hash, that the signature verifies with the domain
    certificate's key, and that the certificate chains to a trusted root (certifi's store) for
    the signed domain at the signing time. The RFC 3161 timestamp is not checked.
    """
    import certifi
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

    if signed.get("hash") != digest:
        return "the signature is for another datapackage.json (hash differs)"
    try:
        certs = x509.load_pem_x509_certificates(str(signed["domainCert"]).encode())
        signature = base64.b64decode(signed["signature"])
        created = datetime.strptime(signed["created"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        domain = str(signed["domain"])
    except (KeyError, ValueError) as e:
        return f"signedData is incomplete or malformed ({e})"
    key = certs[0].public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return "the signing certificate does not hold an EC key"
    try:
        key.verify(signature, digest.encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return "the signature does not verify with the domain certificate"
    with open(certifi.where(), "rb") as fh, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a few old roots have serial numbers RFC 5280 forbids
        roots = Store(x509.load_pem_x509_certificates(fh.read()))
    verifier = (
        PolicyBuilder().store(roots).time(created).build_server_verifier(x509.DNSName(domain))
    )
    try:
        verifier.verify(certs[0], certs[1:])
    except VerificationError:
        issuer = certs[-1].issuer.rfc4514_string()
        return f"the certificate for {domain} does not chain to a trusted root (top: {issuer})"
    return None


def check_wacz(path: Path, *, check_digests: bool = True) -> list[Problem]:
    """Every problem found in a WACZ package (WACZ 1.0 and 1.1); empty means it is valid."""
    name = path.name
    problems: list[Problem] = []

    def add(message: str, fix: str = "", offset: int = 0) -> None:
        problems.append(Problem(name, offset, WaczError, message, fix))

    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        add(f"not a readable ZIP file: {e}")
        return problems
    with zf:
        names = {n for n in zf.namelist() if not n.endswith("/")}
        offsets = {i.filename: i.header_offset for i in zf.infolist()}
        if "datapackage.json" not in names:
            add("no datapackage.json: this is not a WACZ package")
            return problems
        raw = zf.read("datapackage.json")
        try:
            package = json.loads(raw)
        except ValueError as e:
            add(f"datapackage.json is not JSON: {e}", offset=offsets["datapackage.json"])
            return problems
        if not package.get("wacz_version"):
            add("datapackage.json has no wacz_version", offset=offsets["datapackage.json"])
        resources = package.get("resources") or []
        listed = set()
        for res in resources:
            member = str(res.get("path", ""))
            listed.add(member)
            if member not in names:
                add(f"{member!r} is listed in datapackage.json but not in the package")
                continue
            algo, expected, size = _resource_hash(res)
            if algo is None or expected is None:
                add(f"{member} has no hash in datapackage.json", offset=offsets[member])
                continue
            if algo not in hashlib.algorithms_available:
                add(f"{member}: unknown hash algorithm {algo!r}", offset=offsets[member])
                continue
            got, got_size = _hash_member(zf, member, algo)
            if got != expected or (size is not None and size != got_size):
                add(
                    f"{member} does not match its hash or size in datapackage.json",
                    "the file was changed after packaging: package it again",
                    offsets[member],
                )
        for member in sorted(names - listed - {"datapackage.json", "datapackage-digest.json"}):
            add(
                f"{member} is in the package but not listed in datapackage.json",
                "",
                offsets[member],
            )
        warcs = sorted(n for n in names if n.startswith("archive/") and n.endswith(WARC_NAMES))
        if not warcs:
            add("no WARC file under archive/")
        if not any(n.startswith("indexes/") for n in names):
            add("no index under indexes/ (index.cdx.gz, index.cdx or index.idx)")
        if "datapackage-digest.json" in names:
            try:
                digest_doc = json.loads(zf.read("datapackage-digest.json"))
                algo = str(digest_doc["hash"]).split(":", 1)[0]
                digest = f"{algo}:{hashlib.new(algo, raw).hexdigest()}"
            except (ValueError, KeyError, TypeError) as e:
                add(f"datapackage-digest.json is malformed: {e}")
            else:
                if digest_doc["hash"] != digest:
                    add("datapackage.json does not match the hash in datapackage-digest.json")
                elif digest_doc.get("signedData"):
                    reason = _check_signature(digest_doc["signedData"], digest)
                    if reason:
                        add(f"signature: {reason}")
        for member in warcs:
            with zf.open(member) as fh:
                problems.extend(
                    check_stream(
                        cast(BinaryIO, fh), name=f"{name}#{member}", check_digests=check_digests
                    )
                )
    return problems
