"""The library's exceptions. Edges (CLI, DAG tasks) turn them into exit codes or task failures."""


class OpedsError(Exception):
    """Base class: a problem a user can fix, reported as one clear line."""


class ConfigError(OpedsError):
    """A settings or sources file is invalid."""


class StoreError(OpedsError):
    """An object store could not complete an operation."""


class NotFound(OpedsError):
    """A URL, work, night or capture is not in the archive."""
