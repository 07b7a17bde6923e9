"""URL canonicalisation for dedup. The archive always keeps the exact URL requested."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "yclid",
        "_ga",
        "_gl",
        "ref",
        "ref_src",
        "cmpid",
        "ocid",
        "ito",
        "smid",
        "at_medium",
        "at_campaign",
        "share",
        "amp",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "__twitter", "ga_")


def is_tracking_param(name: str) -> bool:
    n = name.lower()
    return n in TRACKING_PARAMS or n.startswith(TRACKING_PREFIXES)


def canonical_url(url: str) -> str:
    """The URL used to decide whether two requests fetch the same resource.

    Lower-cases scheme and host, drops default ports, the fragment and tracking parameters
    (``utm_*``, ``fbclid``, ...), sorts the remaining query parameters and normalises
    percent-encoding (w3lib's ``canonicalize_url``).
    """
    parts = urlsplit(url.strip())
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not is_tracking_param(k)
    ]
    host = (parts.hostname or "").lower().rstrip(".")
    port = parts.port
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    netloc = host if port in (None, default) else f"{host}:{port}"
    rebuilt = urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", urlencode(query), ""))
    return canonicalize_url(rebuilt, keep_fragments=False)


def outlet_of(url: str) -> str:
    """The outlet an URL belongs to: its host name, lower-case."""
    return (urlsplit(url).hostname or "").lower()
