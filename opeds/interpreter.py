"""How opeds starts Python child processes (the crawl, its WARC writer, extraction workers).

A child is this interpreter run with ``-P`` (the working folder is not an import root, so a
folder named ``opeds`` or ``crawler`` where the command runs cannot shadow the package), and the
folders the running code was imported from first on ``PYTHONPATH`` (so the child imports the
same code however the parent found it: installed, editable, or on ``sys.path`` by hand).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

PACKAGES = ("opeds", "crawler", "storage")


def python_command(module: str, *args: str) -> list[str]:
    """``python -P -m module args...`` with this interpreter."""
    return [sys.executable, "-P", "-m", module, *args]


def child_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with the import roots of this code put
    first on ``PYTHONPATH``."""
    env = dict(os.environ if base is None else base)
    roots: list[str] = []
    for name in PACKAGES:
        mod = sys.modules.get(name)
        path = getattr(mod, "__file__", None)
        if path:
            root = str(Path(path).resolve().parent.parent)
            if root not in roots:
                roots.append(root)
    rest = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p not in roots]
    env["PYTHONPATH"] = os.pathsep.join(roots + rest)
    return env
