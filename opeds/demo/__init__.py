"""``opeds demo``: one night against built-in sample outlets served on 127.0.0.1.

:mod:`opeds.demo.site` builds the outlets' pages and their ground truth; :data:`SOURCES_PATH` is
the sources config that points the crawler at them; :class:`opeds.testing.web.LoopbackWeb` serves
them through a local proxy, so the demo needs no network.
"""

from opeds.demo.site import SOURCES_PATH, DemoArticle, DemoSite, articles, build, build_site

__all__ = ["SOURCES_PATH", "DemoArticle", "DemoSite", "articles", "build", "build_site"]
