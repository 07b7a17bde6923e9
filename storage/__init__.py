"""``opeds.storage``: WARC files (:mod:`opeds.storage.warc`), object stores
(:mod:`opeds.storage.stores`), the catalog (:mod:`opeds.storage.catalog`) and how archivists
reach the records (:mod:`opeds.storage.access`).

This folder sits at the top of the repository and is linked into the package as
``opeds/storage``; it is only ever imported as ``opeds.storage``.
"""
