"""opeds.storage.access.replay: pywb over the archive, in a child process bound to 127.0.0.1."""

from __future__ import annotations

import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from opeds.errors import ConfigError
from opeds.storage.access.replay import ReplayServer, build_replay_config, start_replay
from opeds.storage.warc.reader import iter_records, read_record_at
from opeds.storage.warc.writer import WarcFileWriter

WHEN = datetime(2026, 11, 28, 2, 30, 5, tzinfo=UTC)
URL = "https://news.example/opinion/the-case-for-archives?utm_source=feed"
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nX-Served-By: o1\r\n\r\n"
BODY = (
    "<html><head><title>The case for archives</title></head>"
    "<body><p>Keep it all. \u2014 A.</p></body></html>"
).encode()
AGNOSTIC = ["pywb/example-url-agnostic-orig.warc.gz", "pywb/example-url-agnostic-revisit.warc.gz"]


def make_archive(root: Path, corpus_dir: Path) -> None:
    writer = WarcFileWriter(
        root,
        prefix="opeds",
        day=date(2026, 11, 28),
        max_bytes=1_000_000,
        gzip_level=6,
        warcinfo={"software": "opeds-test"},
        clock=lambda: WHEN,
    )
    rid = writer.factory.new_id()
    resp = writer.factory.response(URL, HEAD, BODY, WHEN, record_id=rid)
    req = writer.factory.request(
        URL,
        b"GET /opinion/the-case-for-archives HTTP/1.1\r\nHost: news.example\r\n\r\n",
        WHEN,
        concurrent_to=rid,
    )
    writer.write_group([(req, WHEN), (resp, WHEN)])
    writer.close()
    other_night = root / "warcs/2013/07/29"
    other_night.mkdir(parents=True)
    for rel in AGNOSTIC:
        shutil.copyfile(corpus_dir / "warc" / rel, other_night / Path(rel).name)


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.fixture(scope="module")
def server(corpus_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReplayServer]:
    root = tmp_path_factory.mktemp("archive")
    make_archive(root, corpus_dir)
    with start_replay(root) as srv:
        yield srv


def test_config_points_at_the_archive_without_copying(corpus_dir: Path, tmp_path: Path) -> None:
    make_archive(tmp_path, corpus_dir)
    config = build_replay_config(tmp_path)
    assert config.indexes == 2  # one merged index per night
    links = sorted(p.name for p in config.index_dir.iterdir())
    assert links == ["2013-07-29--night-2013-07-29.cdxj", "2026-11-28--night-2026-11-28.cdxj"]
    assert all((config.index_dir / n).is_symlink() for n in links)
    assert not [p for p in (tmp_path / ".pywb").rglob("*") if ".warc" in p.name]
    text = config.config_file.read_text()
    assert f'archive_paths: "{tmp_path.resolve()}/"' in text and "opeds:" in text
    assert config.path(URL, "20261128023005", raw=True) == f"/opeds/20261128023005id_/{URL}"
    # rebuilding is idempotent
    assert build_replay_config(tmp_path).indexes == 2


def test_only_loopback(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="loopback"):
        start_replay(tmp_path, host="0.0.0.0")


@pytest.mark.corpus
def test_replays_own_capture_byte_for_byte(server: ReplayServer) -> None:
    assert server.url.startswith("http://127.0.0.1:")
    status, body = get(server.url + server.config.path(URL, "20261128023005", raw=True))
    assert status == 200
    assert body == BODY
    status, page = get(server.url + server.config.path(URL, "20261128023005"))
    assert status == 200 and b'id="replay_iframe"' in page  # pywb's frame around the capture


@pytest.mark.corpus
def test_url_agnostic_revisit_replays_the_original(server: ReplayServer, corpus_dir: Path) -> None:
    orig = corpus_dir / "warc" / AGNOSTIC[0]
    response = next(r for r in iter_records(orig) if r.rec_type == "response")
    data = orig.read_bytes()
    original = read_record_at(data[response.offset : response.offset + response.length], name="o")
    revisit = next(
        r for r in iter_records(corpus_dir / "warc" / AGNOSTIC[1]) if r.rec_type == "revisit"
    )
    assert revisit.target_uri != response.target_uri  # the revisit is for another URL
    assert revisit.refers_to_target_uri == response.target_uri
    status, body = get(
        server.url + server.config.path("http://test@example.com/", "20130729195151", raw=True)
    )
    assert status == 200
    assert body == original.body and b"Example Domain" in body


@pytest.mark.corpus
def test_unknown_url_is_not_found(server: ReplayServer) -> None:
    status, _ = get(server.url + server.config.path("https://news.example/never", raw=True))
    assert status == 404
