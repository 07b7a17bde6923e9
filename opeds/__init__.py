"""opeds: nightly scraping and archiving of syndicated op-eds."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("opeds")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0.0.0"

__all__ = ["__version__"]
