"""Reading back one archived record by its location (offset and length in a WARC file)."""

from __future__ import annotations

import io
from dataclasses import dataclass

from warcio.archiveiterator import ArchiveIterator

from opeds.errors import NotFound
from storage.stores import Store


@dataclass(frozen=True)
class HttpPayload:
    """A record's HTTP response: status, headers and the body decoded as a browser sees it."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    record_type: str
    target_uri: str

    def header(self, name: str) -> str | None:
        lname = name.lower()
        return next((v for k, v in self.headers if k.lower() == lname), None)


def read_payload(store: Store, key: str, offset: int, length: int) -> HttpPayload:
    """The HTTP response held by the record at ``key``/``offset``: one ranged read."""
    data = store.read_range(key, offset, length)
    for rec in ArchiveIterator(io.BytesIO(data), arc2warc=True):
        status = int(rec.http_headers.get_statuscode() or 0) if rec.http_headers else 0
        headers = list(rec.http_headers.headers) if rec.http_headers else []
        body = rec.content_stream().read()
        return HttpPayload(
            status,
            headers,
            body,
            str(rec.rec_type),
            str(rec.rec_headers.get_header("WARC-Target-URI")),
        )
    raise NotFound(f"no record at {key}@{offset}")
