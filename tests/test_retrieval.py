"""opeds get and opeds export on two demo nights: exact record bytes from a local folder and from
S3 (one ranged GET per record group), revisits resolved, errors that suggest, a work's WACZ that
pywb replays."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from warcio.archiveiterator import ArchiveIterator

from opeds.cli import main
from opeds.cli.retrieval import export, get
from opeds.storage.access.retrieval import (
    WORK_JSON,
    NoCaptureAt,
    UnknownUrl,
    export_work,
    find_capture,
    get_capture,
    parse_time,
    warc_timestamp,
)
from opeds.storage.access.wacz import check_wacz, validate_wacz
from opeds.storage.catalog.db import Capture, Catalog
from opeds.storage.stores.local import LocalStore
from opeds.storage.stores.s3 import S3Store
from tests.s3server import MotoS3, moto_s3_fixture, store_options  # noqa: F401
from tests.warccheck import fastwarc_check

ROOT = Path(__file__).resolve().parent.parent
NIGHT1, NIGHT2 = "2026-11-28", "2026-11-29"
SEED_ORIGINAL = (
    "https://english.aawsat.com/home/article/3844811/jonathan-hargreaves/"
    "normalization-syrian-regime-didn't-yield-any-results"
)
SEED_COPY = (
    "https://syrianobserver.com/foreign-actors/"
    "normalization-with-the-syrian-regime-didnt-yield-any-results.html"
)


def run(*args: str) -> str:
    res = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Two demo nights: the second has 304 and identical-payload revisits of the first."""
    root = tmp_path_factory.mktemp("retrieval") / "archive"
    run("demo", "--archive", str(root), "--night", NIGHT1)
    run("demo", "--archive", str(root), "--night", NIGHT2)
    yield root


@pytest.fixture
def catalog(archive: Path) -> Iterator[Catalog]:
    cat = Catalog(f"sqlite:///{archive / 'catalog.sqlite'}")
    yield cat
    cat.close()


def stored(root: Path, key: str, offset: int, length: int) -> bytes:
    with open(root / key, "rb") as fh:
        fh.seek(offset)
        return fh.read(length)


def records_of(path: Path) -> list[tuple[str, str, bytes, Any]]:
    """(type, record id, the record's bytes as in the file, headers) of every record."""
    data = path.read_bytes()
    out = []
    with open(path, "rb") as fh:
        it = ArchiveIterator(fh)
        for rec in it:
            rec.content_stream().read()
            offset, length = it.get_record_offset(), it.get_record_length()
            rid = rec.rec_headers.get_header("WARC-Record-ID")
            out.append((rec.rec_type, rid, data[offset : offset + length], rec.rec_headers))
    return out


def expected_bytes(root: Path, cat: Catalog, cap: Capture) -> list[bytes]:
    """What the catalog says the capture's request, response/revisit and metadata records are."""
    assert cap.id is not None and cap.request_offset is not None and cap.request_length
    out = [
        stored(root, cap.warc_key, cap.request_offset, cap.request_length),
        stored(root, cap.warc_key, cap.offset, cap.length),
    ]
    art = cat.article_for_capture(cap.id)
    if art is not None:
        assert art.metadata_warc_key and art.metadata_offset is not None and art.metadata_length
        out.append(stored(root, art.metadata_warc_key, art.metadata_offset, art.metadata_length))
    return out


def warcio_check_all(paths: list[Path]) -> None:
    exe = Path(sys.executable).with_name("warcio")
    res = subprocess.run([str(exe), "check", *map(str, paths)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


# -- get: exact bytes ---------------------------------------------------------------------------


def test_get_copies_every_article_of_a_night_byte_for_byte(
    archive: Path, catalog: Catalog, tmp_path: Path
) -> None:
    store = LocalStore(archive)
    arts = catalog.articles_for_night(NIGHT1)
    assert len(arts) >= 15
    written = []
    for art in arts:
        cap = catalog.get_capture(art.capture_id)
        out = tmp_path / f"{art.id}.warc.gz"
        result = get_capture(catalog, store, art.url, at=cap.captured_at, out=out, source="x")
        assert result.plan.capture.id == cap.id and result.reads == 2
        recs = records_of(out)
        assert [r[0] for r in recs] == ["warcinfo", "request", "response", "metadata"]
        assert [r[2] for r in recs[1:]] == expected_bytes(archive, catalog, cap)
        info = recs[0][2]
        assert b"opeds-archive: x" in _gunzip(info)
        assert f"{cap.warc_key} {cap.offset} {cap.length}".encode() in _gunzip(info)
        assert fastwarc_check(out) == 4
        written.append(out)
    warcio_check_all(written)


def _gunzip(member: bytes) -> bytes:
    import gzip

    return gzip.decompress(member)


def test_get_resolves_revisits_to_the_payload_they_refer_to(
    archive: Path, catalog: Catalog, tmp_path: Path
) -> None:
    store = LocalStore(archive)
    # night 2 re-checks the articles (304s) and reads the unchanged feeds again (same bytes)
    revisits = [
        c
        for c in catalog.captures_for_night(NIGHT2)
        if c.record_type == "revisit" and c.kind in ("article", "feed")
    ]
    profiles = {
        (c.kind, c.revisit_profile.rsplit("/", 1)[-1]) for c in revisits if c.revisit_profile
    }
    assert profiles == {("article", "server-not-modified"), ("feed", "identical-payload-digest")}
    written = []
    for cap in revisits:
        out = tmp_path / f"{cap.id}.warc.gz"
        result = get_capture(catalog, store, cap.url, at=cap.captured_at, out=out)
        original = result.plan.original
        assert original is not None and original.record_type == "response"
        assert original.payload_digest == cap.payload_digest
        recs = records_of(out)
        types = [r[0] for r in recs]
        assert types[:5] == ["warcinfo", "request", "response", "request", "revisit"]
        # the original's request and response, then the revisit's, exactly as stored
        assert recs[2][2] == stored(archive, original.warc_key, original.offset, original.length)
        assert recs[4][2] == stored(archive, cap.warc_key, cap.offset, cap.length)
        revisit_headers = recs[4][3]
        assert revisit_headers.get_header("WARC-Refers-To-Target-URI") == original.url
        assert revisit_headers.get_header("WARC-Refers-To") == recs[2][1]
        if cap.kind == "article":
            # the article's metadata record comes along, concurrent to the original response
            assert types[5:] == ["metadata"]
            assert recs[5][3].get_header("WARC-Concurrent-To") == recs[2][1]
        else:
            assert types[5:] == []
        assert result.reads == len(result.plan.groups) == (3 if cap.kind == "article" else 2)
        written.append(out)
    assert written
    warcio_check_all(written)


def test_get_defaults_to_the_latest_capture_and_reads_times(
    catalog: Catalog, archive: Path
) -> None:
    caps = sorted(
        (c for c in catalog.iter_captures() if c.url == SEED_ORIGINAL),
        key=lambda c: c.captured_at,
    )
    assert len(caps) == 2
    first, latest = caps
    assert find_capture(catalog, SEED_ORIGINAL).id == latest.id
    assert find_capture(catalog, SEED_ORIGINAL, warc_timestamp(first.captured_at)).id == first.id
    iso = first.captured_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert find_capture(catalog, SEED_ORIGINAL, iso).id == first.id
    # a day holding both captures: the one closest to its start
    day = first.captured_at.strftime("%Y-%m-%d")
    if latest.captured_at.date() == first.captured_at.date():
        assert find_capture(catalog, SEED_ORIGINAL, day).id == first.id
    # the canonical form of the URL finds it too
    assert find_capture(catalog, SEED_ORIGINAL.replace("didn't", "didn%27t")).url == SEED_ORIGINAL


def test_unknown_urls_and_times_suggest_what_there_is(catalog: Catalog) -> None:
    with pytest.raises(UnknownUrl) as e:
        find_capture(catalog, "https://syrianobserver.com/foreign-actors/normalization")
    assert SEED_COPY in e.value.suggestions
    assert all(s.startswith("https://syrianobserver.com/") for s in e.value.suggestions)
    assert "similar captured URLs" in str(e.value)
    with pytest.raises(UnknownUrl) as e:
        find_capture(catalog, "https://nowhere.example/opinion/x")
    assert e.value.suggestions == []
    with pytest.raises(NoCaptureAt) as e2:
        find_capture(catalog, SEED_ORIGINAL, "2020-01-01")
    assert len(e2.value.nearest) == 2
    assert warc_timestamp(e2.value.nearest[0].captured_at) in str(e2.value)
    assert "--nearest" in str(e2.value)
    assert (
        find_capture(catalog, SEED_ORIGINAL, "2020-01-01", nearest=True).id
        == min(e2.value.nearest, key=lambda c: c.captured_at).id
    )
    with pytest.raises(Exception, match="not a time"):
        parse_time("last tuesday")


# -- get from S3 --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_archive(archive: Path) -> S3Store:
    from tests.s3server import shared_server

    server = shared_server()
    store = S3Store(server.bucket(), "night-archive", **store_options(server.endpoint))
    local = LocalStore(archive)
    for key in local.list("warcs/"):
        path = local.local_path(key)
        assert path is not None
        store.put_file(path, key)
    return store


def test_get_from_s3_reads_one_range_per_record_group(
    archive: Path, catalog: Catalog, s3_archive: S3Store, tmp_path: Path
) -> None:
    sent: list[tuple[str, str, str]] = []

    def count(request: Any, **_: Any) -> None:
        sent.append((request.method, request.url, request.headers.get("Range", b"")))

    s3_archive.client.meta.events.register("before-send.s3", count)
    try:
        caps = [
            c for c in catalog.iter_captures() if c.kind == "article" and c.status in (200, 304)
        ]
        assert len(caps) > 30
        for cap in caps:
            sent.clear()
            out = tmp_path / f"{cap.id}.warc.gz"
            result = get_capture(catalog, s3_archive, cap.url, at=cap.captured_at, out=out)
            assert len(sent) == result.reads == len(result.plan.groups)
            assert all(m == "GET" and rng for m, _, rng in sent), sent
            local = tmp_path / f"{cap.id}-local.warc.gz"
            get_capture(catalog, LocalStore(archive), cap.url, at=cap.captured_at, out=local)
            assert [r[2] for r in records_of(out)[1:]] == [r[2] for r in records_of(local)[1:]]
    finally:
        s3_archive.client.meta.events.unregister("before-send.s3", count)


# -- the CLI ------------------------------------------------------------------------------------


def test_cli_get_writes_the_file_and_says_what_it_holds(
    archive: Path, catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    # the year the demo's captures were made in (their true capture time, whatever the nights)
    year = str(min(c.captured_at for c in catalog.iter_captures()).year)
    res = CliRunner().invoke(get, [SEED_COPY, "--archive", str(archive), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    path = Path(doc["path"])
    assert path.parent == Path(".") and path.name.startswith("syrianobserver.com-")
    assert (tmp_path / path).is_file()
    assert doc["record_type"] == "revisit" and doc["original"]["url"] == SEED_COPY
    assert doc["reads"] == 3  # the original's request and response, the revisit's, metadata
    res = CliRunner().invoke(
        get, [SEED_ORIGINAL, "--archive", str(archive), "--at", year, "-o", "seed.warc.gz"]
    )
    assert res.exit_code == 0, res.output
    assert "Wrote seed.warc.gz" in res.output and "200 response" in res.output
    assert [r[0] for r in records_of(tmp_path / "seed.warc.gz")] == [
        "warcinfo",
        "request",
        "response",
        "metadata",
    ]


def test_cli_errors_are_one_line_with_suggestions(archive: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(get, [SEED_COPY[:-8], "--archive", str(archive)])
    assert res.exit_code == 1
    assert res.output.count("\n") == 1 and SEED_COPY in res.output
    res = CliRunner().invoke(get, [SEED_COPY, "--archive", str(archive), "--at", "1999"])
    assert res.exit_code == 1 and "nearest captures" in res.output
    res = CliRunner().invoke(export, ["w-nope", "--archive", str(archive)])
    assert res.exit_code == 1 and "no work 'w-nope'" in res.output
    res = CliRunner().invoke(get, [SEED_COPY, "--archive", str(tmp_path / "none")])
    assert res.exit_code == 1 and "no catalog" in res.output
    assert not (tmp_path / "none").exists()


# -- export -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seed_wacz(archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cat = Catalog(f"sqlite:///{archive / 'catalog.sqlite'}")
    try:
        (hit,) = [a for a in cat.iter_articles() if a.url == SEED_ORIGINAL]
        assert hit.work_id
        out = tmp_path_factory.mktemp("export") / "seed.wacz"
        res = CliRunner().invoke(
            export, [hit.work_id, "--archive", str(archive), "-o", str(out), "--json"]
        )
        assert res.exit_code == 0, res.output
        assert json.loads(res.output)["work"] == hit.work_id
        return out
    finally:
        cat.close()


def test_export_holds_every_copy_byte_for_byte(
    seed_wacz: Path, archive: Path, catalog: Catalog
) -> None:
    validate_wacz(seed_wacz)
    assert check_wacz(seed_wacz) == []
    with zipfile.ZipFile(seed_wacz) as zf:
        package = json.loads(zf.read("datapackage.json"))
        work = json.loads(zf.read(WORK_JSON))
        (warc_name,) = [n for n in zf.namelist() if n.startswith("archive/")]
        warc = zf.read(warc_name)
        index = zf.read("indexes/index.cdx").decode()
        pages = zf.read("pages/pages.jsonl").decode().splitlines()[1:]
    assert WORK_JSON in {r["path"] for r in package["resources"]}
    assert package["opeds"]["original"] == SEED_ORIGINAL == work["original"]
    roles = {m["url"]: m["role"] for m in work["members"]}
    assert roles[SEED_ORIGINAL] == "original" and roles[SEED_COPY] == "copy"
    assert {json.loads(p)["url"] for p in pages} >= {SEED_ORIGINAL, SEED_COPY}
    # every capture of every member, both nights, in the WARC as stored
    members = catalog.articles_in_works([work["work"]])
    caps = [c for c in catalog.iter_captures() if c.url in {m.url for m in members}]
    assert {c.night for c in caps} == {NIGHT1, NIGHT2}
    for cap in caps:
        assert stored(archive, cap.warc_key, cap.offset, cap.length) in warc
        assert work_capture_listed(work, cap)
    for m in members:
        assert m.metadata_warc_key and m.metadata_offset is not None and m.metadata_length
        assert stored(archive, m.metadata_warc_key, m.metadata_offset, m.metadata_length) in warc
    # the replay index leaves out metadata records and 304 revisits
    assert "application/json" not in index and '"status": "304"' not in index


def work_capture_listed(work: dict[str, Any], cap: Capture) -> bool:
    stamps = {c["captured"] for m in work["members"] for c in m["captures"]}
    return cap.captured_at.isoformat().replace("+00:00", "Z") in stamps


def _fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_export_replays_in_pywb(seed_wacz: Path, tmp_path: Path, catalog: Catalog) -> None:
    """pywb's own way in: ``wb-manager add --unpack-wacz``, then both copies replay."""
    wb_manager = str(Path(sys.executable).with_name("wb-manager"))
    for args in (["init", "work"], ["add", "work", "--unpack-wacz", str(seed_wacz)]):
        res = subprocess.run([wb_manager, *args], cwd=tmp_path, capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
    config = tmp_path / "config.yaml"
    config.write_text(f"collections_root: {json.dumps(str(tmp_path / 'collections'))}\n")
    with _pywb(config) as base:
        for url in (SEED_ORIGINAL, SEED_COPY):
            caps = sorted(
                (c for c in catalog.iter_captures() if c.url == url), key=lambda c: c.captured_at
            )
            for cap in caps:  # the first night's response, the second night's revisit
                status, body = _fetch(f"{base}/work/{warc_timestamp(cap.captured_at)}id_/{url}")
                assert status == 200, (url, cap.record_type, body[:200])
                assert b"Normalization with the Syrian Regime" in body
                assert b"<html" in body.lower()
            status, body = _fetch(f"{base}/work/{warc_timestamp(caps[0].captured_at)}/{url}")
            assert status == 200 and b"<iframe" in body  # pywb's frame around the page


class _pywb:
    """pywb (``python -m opeds.replay``) on 127.0.0.1 with a given config, any free port."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.proc: subprocess.Popen[str] | None = None

    def __enter__(self) -> str:
        from opeds.storage.access.replay import READY

        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "opeds.storage.access.replay",
                "--config",
                str(self.config),
                "--port",
                "0",
            ],
            cwd=self.config.parent,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith(READY), line
        return line[len(READY) :].strip().rstrip("/")

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(timeout=10)
        if self.proc.stdout:
            self.proc.stdout.close()


def test_export_of_a_work_not_in_the_catalog(catalog: Catalog, tmp_path: Path) -> None:
    with pytest.raises(Exception, match="no work"):
        export_work(catalog, LocalStore(tmp_path), "w-0000000000", out=tmp_path / "x.wacz")
    assert not (tmp_path / "x.wacz").exists()


def test_every_command_and_option_is_documented() -> None:
    from opeds.cli.retrieval import search

    docs = (ROOT / "docs" / "retrieval.md").read_text(encoding="utf-8")
    for command in (search, get, export):
        assert command.help and command.name
        assert f"## `opeds {command.name}" in docs, command.name
        for param in command.params:
            for opt in param.opts:
                if opt.startswith("--") and opt not in ("--archive", "--catalog"):
                    assert f"`{opt}" in docs, (command.name, opt)
