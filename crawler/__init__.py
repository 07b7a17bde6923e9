"""``opeds.crawler``: the stages before anything is stored, sources and discovery
(:mod:`opeds.crawler.sources`), then the crawl and its capture (:mod:`opeds.crawler.capture`).

This folder sits at the top of the repository and is linked into the package as
``opeds/crawler``; it is only ever imported as ``opeds.crawler``.
"""
