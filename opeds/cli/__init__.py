"""The ``opeds`` command line: thin wrappers over the library, one line per user error."""

from opeds.cli.main import main

__all__ = ["main"]
