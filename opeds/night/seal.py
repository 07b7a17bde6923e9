"""Step 6: store and verify the night's files, write its manifest."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from opeds.night.common import Progress, _quiet, catalog_for, store_for
from opeds.settings import Settings
from opeds.storage.stores.local import LocalStore


# -- 6. seal ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SealedFile:
    key: str
    size: int
    sha256: str
    records: int


def store_night_files(
    settings: Settings,
    night: str,
    *,
    sources: Sequence[str] | None = None,
    progress: Progress = _quiet,
) -> list[SealedFile]:
    """Store the night's complete WARC files (of ``sources`` only, when given), each verified
    against what was written; with a remote archive the local copy then goes."""
    store = store_for(settings)
    spool = LocalStore(settings.spool_path)
    names = re.compile(
        "|".join(re.escape(f"{settings.warc_prefix}-{n}-") + r"\d{17}-\d{5}-" for n in sources)
        if sources
        else ""
    )
    sealed: list[SealedFile] = []
    with catalog_for(settings) as cat:
        for f in cat.warc_files_for_night(night):
            key = f["key"]
            if not names.match(key.rsplit("/", 1)[-1]):
                continue
            local = spool.local_path(key)
            if local is not None and local.is_file() and not (f["stored"] and settings.is_remote):
                progress(f"storing {key}")
                obj = store.put_file(local, key)
                if obj.sha256 != f["sha256"] or obj.size != f["size"]:
                    raise OSError(
                        f"{key}: stored copy ({obj.size} bytes, sha256 {obj.sha256}) differs "
                        f"from the file written ({f['size']} bytes, sha256 {f['sha256']})"
                    )
                cat.record_warc_file(
                    key,
                    night,
                    size=f["size"],
                    sha256=f["sha256"],
                    records=f["records"],
                    first_record=f["first_record"],
                    last_record=f["last_record"],
                    stored=True,
                )
                if settings.is_remote:
                    local.unlink()
            elif not f["stored"]:
                raise FileNotFoundError(f"{key}: neither in the spool nor stored")
            sealed.append(SealedFile(key, f["size"], f["sha256"], f["records"]))
    return sealed


def seal_night(settings: Settings, night: str, *, progress: Progress = _quiet) -> list[SealedFile]:
    """Store every complete file of the night, verified, and write the night's manifest."""
    from opeds.storage.stores.manifest import FileEntry, build_manifest, write_manifest

    sealed = store_night_files(settings, night, progress=progress)
    with catalog_for(settings) as cat:
        entries = [
            FileEntry(
                key=f["key"],
                size=f["size"],
                sha256=f["sha256"],
                records=f["records"],
                first_record=f["first_record"],
                last_record=f["last_record"],
            )
            for f in cat.warc_files_for_night(night)
        ]
    write_manifest(store_for(settings), build_manifest(night, entries))
    return sealed
