"""The rules a record's headers follow: WARC 1.1 (sections 5 and 6) and ARC 1.0."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from warcio.statusandheaders import StatusAndHeaders

from opeds.storage.warc.errors import Severity, WarcHeaderError, WarcReadError

# ---------------------------------------------------------------------------------------------
# Header rules (WARC 1.1, section 5 and 6; ARC 1.0)

WARC_TYPES = (
    "warcinfo",
    "response",
    "resource",
    "request",
    "metadata",
    "revisit",
    "conversion",
    "continuation",
)
NEEDS_TARGET = ("response", "resource", "request", "revisit", "conversion", "continuation")
HTTP_TYPES = ("response", "request", "revisit")
REPEATABLE = {"warc-concurrent-to"}
STANDARD_FIELDS = {
    "warc-type",
    "warc-record-id",
    "warc-date",
    "content-length",
    "content-type",
    "warc-concurrent-to",
    "warc-block-digest",
    "warc-payload-digest",
    "warc-ip-address",
    "warc-refers-to",
    "warc-refers-to-target-uri",
    "warc-refers-to-date",
    "warc-target-uri",
    "warc-truncated",
    "warc-warcinfo-id",
    "warc-filename",
    "warc-profile",
    "warc-identified-payload-type",
    "warc-segment-number",
    "warc-segment-origin-id",
    "warc-segment-total-length",
}
OPTIONAL_FIELDS = STANDARD_FIELDS - {"content-length", "warc-type", "warc-record-id", "warc-date"}
ID_FIELDS = (
    "warc-record-id",
    "warc-concurrent-to",
    "warc-refers-to",
    "warc-warcinfo-id",
    "warc-segment-origin-id",
)
TRUNCATED_REASONS = ("length", "time", "disconnect", "unspecified")
RE_RECORD_ID = re.compile(r"^<[A-Za-z][A-Za-z0-9+.\-]*:[^<>\s]+>$")
RE_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:\S*$")
RE_DATE = re.compile(
    r"^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?Z)?)?)?$",
    re.IGNORECASE,
)
RE_DIGEST = re.compile(r"^([A-Za-z0-9\-]+):([A-Za-z0-9+/=_\-]+)$")
RE_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z\-]+"
RE_MEDIA_TYPE = re.compile(rf"^{RE_TOKEN}/{RE_TOKEN}\s*(;.*)?$")
RE_FIELD_LINE = re.compile(rf"^{RE_TOKEN}:")
RE_HTTP_VERSION = re.compile(r"^HTTP/\d\.\d$", re.IGNORECASE)
RE_STATUS = re.compile(r"^\d{3}(\s.*)?$")
RE_ARC_DATE = re.compile(r"^\d{14}$")


def parse_warc_date(value: str) -> datetime | None:
    """A WARC-Date (W3C profile of ISO 8601, UTC, ``Z``) as an aware datetime, else None."""
    m = RE_DATE.match(value)
    if not m:
        return None
    y, mo, d, h, mi, s, frac = m.groups()
    micro = int((frac or "0")[:6].ljust(6, "0"))
    try:
        return datetime(
            int(y), int(mo or 1), int(d or 1), int(h or 0), int(mi or 0), int(s or 0), micro, UTC
        )
    except ValueError:
        return None


def digest_algorithm(value: str) -> str | None:
    m = RE_DIGEST.match(value)
    if not m:
        return None
    algo = m.group(1).lower().replace("-", "")
    return algo if algo in hashlib.algorithms_available else None


@dataclass
class Issue:
    error: type[WarcReadError]
    message: str
    fix: str = ""
    severity: Severity = "error"
    fatal: bool = False


def check_warc_headers(version: str, headers: list[tuple[str, str]]) -> list[Issue]:
    issues: list[Issue] = []
    seen: dict[str, int] = {}
    for k, _v in headers:
        seen[k.lower()] = seen.get(k.lower(), 0) + 1
    first: dict[str, str] = {}
    for k, v in headers:
        first.setdefault(k.lower(), v)

    def bad(message: str, fix: str = "", *, fatal: bool = False) -> None:
        issues.append(Issue(WarcHeaderError, message, fix, fatal=fatal))

    def warn(message: str) -> None:
        issues.append(Issue(WarcHeaderError, message, "", severity="warning"))

    length = first.get("content-length")
    if length is None:
        bad("the record has no Content-Length, so its end cannot be found", fatal=True)
    elif not length.isdigit():
        bad(f"Content-Length {length!r} is not a number of bytes", fatal=True)
    for name, count in seen.items():
        if count > 1 and name in STANDARD_FIELDS and name not in REPEATABLE:
            bad(f"field {name!r} appears {count} times; the standard allows it once")

    rec_type = first.get("warc-type", "").lower()
    if not rec_type:
        bad("WARC-Type is missing or empty")
    elif rec_type not in WARC_TYPES:
        warn(f"unknown WARC-Type {first['warc-type']!r}")
    for fname in ("warc-record-id", "warc-date"):
        if not first.get(fname):
            bad(f"mandatory field {fname!r} is missing or empty")

    for k, v in headers:
        lk = k.lower()
        if lk in ID_FIELDS and v and not RE_RECORD_ID.match(v):
            bad(f"{k} {v!r} is not a URI in angle brackets such as <urn:uuid:...>")
        elif lk in ("warc-date", "warc-refers-to-date") and v and parse_warc_date(v) is None:
            bad(f"{k} {v!r} is not a UTC date like 2026-11-28T02:00:00Z")
        elif lk in ("warc-target-uri", "warc-refers-to-target-uri") and v and not RE_URI.match(v):
            bad(f"{k} {v!r} is not an absolute URI")
        elif lk == "warc-ip-address" and v:
            try:
                ipaddress.ip_address(v)
            except ValueError:
                bad(f"WARC-IP-Address {v!r} is not an IPv4 or IPv6 address")
        elif lk in ("warc-block-digest", "warc-payload-digest") and digest_algorithm(v) is None:
            bad(f"{k} {v!r} is not 'algorithm:value' with a known hash algorithm")
        elif lk == "content-type" and v and not RE_MEDIA_TYPE.match(v):
            bad(f"Content-Type {v!r} is not a media type")
        elif lk in ("warc-segment-number", "warc-segment-total-length") and not v.isdigit():
            bad(f"{k} {v!r} is not a number")
        elif lk == "warc-truncated" and v.lower() not in TRUNCATED_REASONS:
            warn(f"WARC-Truncated {v!r} is not one of {', '.join(TRUNCATED_REASONS)}")
        elif lk in OPTIONAL_FIELDS and not v:
            bad(f"field {k!r} is empty")

    if rec_type in NEEDS_TARGET and not first.get("warc-target-uri"):
        bad(f"a {rec_type} record needs a WARC-Target-URI", fatal=rec_type in HTTP_TYPES)
    if rec_type == "revisit" and not first.get("warc-profile"):
        bad("a revisit record needs a WARC-Profile")
    segment = first.get("warc-segment-number", "")
    if rec_type == "continuation":
        if not first.get("warc-segment-origin-id"):
            bad("a continuation record needs a WARC-Segment-Origin-ID")
        if not segment:
            bad("a continuation record needs a WARC-Segment-Number")
        elif segment.isdigit() and int(segment) < 2:
            bad(f"a continuation record's WARC-Segment-Number must be 2 or more, not {segment}")
    elif segment.isdigit() and int(segment) != 1:
        bad(f"WARC-Segment-Number {segment} on a {rec_type or 'untyped'} record: only 1 is valid")

    if length and length.isdigit() and int(length) > 0 and rec_type != "continuation":
        ctype = first.get("content-type")
        if not ctype:
            warn("the record has a block but no Content-Type (recommended by the standard)")
        elif rec_type == "warcinfo" and ctype.split(";")[0].strip() != "application/warc-fields":
            warn(f"warcinfo Content-Type is {ctype!r}; application/warc-fields is recommended")
    return issues


def check_arc_headers(headers: list[tuple[str, str]]) -> list[Issue]:
    values = dict(headers)
    issues: list[Issue] = []
    length = values.get("length", "")
    if not length.isdigit():
        issues.append(
            Issue(WarcHeaderError, f"ARC length field {length!r} is not a number", fatal=True)
        )
    if not RE_ARC_DATE.match(values.get("archive-date", "")):
        issues.append(
            Issue(WarcHeaderError, f"ARC date {values.get('archive-date')!r} is not 14 digits")
        )
    if not values.get("uri"):
        issues.append(Issue(WarcHeaderError, "ARC record without a URL"))
    return issues


def check_warc_fields(block: bytes) -> str | None:
    """The first line of an ``application/warc-fields`` block that is not ``Name: value``."""
    for raw in block.split(b"\n"):
        line = raw.rstrip(b"\r").decode("utf-8", "replace")
        if not line.strip() or line[0] in " \t":
            continue
        if not RE_FIELD_LINE.match(line):
            return line
    return None


def check_http_status(http: StatusAndHeaders) -> str | None:
    """A problem with a response's status line, if any.

    Request lines are not checked: browser-based capture tools write HTTP/2 requests without a
    version (``GET /``), and that does not affect what a replay serves.
    """
    if not RE_HTTP_VERSION.match(http.protocol) or not RE_STATUS.match(http.statusline):
        return f"HTTP status line {http.protocol} {http.statusline!r} is not 'HTTP/x.y NNN reason'"
    return None
