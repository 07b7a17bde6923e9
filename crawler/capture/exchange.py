"""One HTTP exchange exactly as it went over the wire: what the capture writes to WARC."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class Exchange:
    """A request and its response as sent and received.

    ``response_head`` is the status line and header block byte for byte, with the blank line
    that ends it. ``body`` is the message body with any transfer coding removed (listed in
    ``transfer_decoded``) but any Content-Encoding kept.
    """

    url: str
    """The exact URL requested (query string and all)."""
    method: str
    request_bytes: bytes
    """Request line, headers and blank line (and body, if any) exactly as sent to the origin."""
    started: datetime
    """When the request was sent (UTC)."""
    http_version: str = "HTTP/1.1"
    status: int = 0
    reason: str = ""
    response_head: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    transfer_decoded: list[str] = field(default_factory=list)
    ip: str | None = None
    truncated: str | None = None
    """WARC-Truncated reason when the body is incomplete: length, time, disconnect, unspecified."""

    def header(self, name: str) -> str | None:
        """The first value of a response header, case-insensitively."""
        lname = name.lower()
        for k, v in self.headers:
            if k.lower() == lname:
                return v
        return None
