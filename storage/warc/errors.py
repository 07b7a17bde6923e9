"""What can be wrong with a WARC or ARC file: one exception per kind of problem, and
:class:`Problem`, a problem found while checking a whole file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from opeds.errors import OpedsError

Severity = Literal["error", "warning"]


# ---------------------------------------------------------------------------------------------
# Errors


class WarcReadError(OpedsError):
    """A WARC or ARC file (or one record of it) cannot be read faithfully."""

    code: ClassVar[str] = "unreadable"

    def __init__(self, name: str, offset: int, problem: str, fix: str = "") -> None:
        self.name = name
        self.offset = offset
        self.problem = problem
        self.fix = fix
        message = f"{name}: at byte {offset}: {problem}"
        if fix:
            message += f". Fix: {fix}"
        super().__init__(message)


class NotAnArchiveError(WarcReadError):
    """The bytes are not a WARC or ARC file at all (a ZIP/WACZ, HTML, an empty file...)."""

    code = "format"


class WarcGzipError(WarcReadError):
    """The gzip layer is corrupt, or its members do not hold exactly one record each."""

    code = "gzip"


class WarcTruncatedError(WarcReadError):
    """The file ends inside a record or inside a gzip member."""

    code = "truncated"


class WarcStructureError(WarcReadError):
    """A record's Content-Length does not end where the record ends, or bytes between records
    are not records."""

    code = "structure"


class WarcHeaderError(WarcReadError):
    """A WARC/ARC header field is missing, repeated, empty or malformed."""

    code = "header"


class WarcHttpError(WarcReadError):
    """The HTTP message inside a request, response or revisit record is malformed."""

    code = "http"


class WarcDigestError(WarcReadError):
    """A WARC-Block-Digest or WARC-Payload-Digest does not match the bytes."""

    code = "digest"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file; ``error`` is the exception class that reports it."""

    name: str
    offset: int
    error: type[WarcReadError]
    message: str
    fix: str = ""
    severity: Severity = "error"

    @property
    def code(self) -> str:
        return self.error.code

    def exception(self) -> WarcReadError:
        return self.error(self.name, self.offset, self.message, self.fix)

    def __str__(self) -> str:
        return f"{self.severity}: {self.exception()}"

    @classmethod
    def from_error(cls, err: WarcReadError) -> Problem:
        return cls(err.name, err.offset, type(err), err.problem, err.fix)
