"""Small hand-made outlets for crawl tests (the demo's sample site is a separate, larger one)."""

from __future__ import annotations

import os
import zlib

from opeds.testing.web import Page


def proxy_env(proxy_url: str, **extra: str) -> dict[str, str]:
    """This process's environment for a crawl child that reaches the test web through
    ``proxy_url``: other proxy settings and armed crash points left out, ``extra`` added."""
    env = {
        k: v for k, v in os.environ.items() if "proxy" not in k.lower() and k != "OPEDS_CRASH_AT"
    }
    env["http_proxy"] = env["https_proxy"] = proxy_url
    env.update(extra)
    return env


PARA = (
    "The {n} argument deserves a careful hearing, because the region's diplomacy has moved faster "
    "than its economies, and every capital now weighs what normalisation has bought. Paragraph {i} "
    "of article {n} develops the point with figures, names and a conclusion of its own."
)


def article_html(n: int, title: str, *, author: str = "Rana Haddad", paras: int = 5) -> str:
    body = "\n".join(f"<p>{PARA.format(n=n, i=i)}</p>" for i in range(paras))
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{title}</title>"
        f'<meta name="author" content="{author}"></head><body><header><nav>Home | Opinion</nav>'
        f"</header><article><h1>{title}</h1><p class=byline>By {author}</p>{body}</article>"
        "<footer>© Outlet</footer></body></html>"
    )


def small_outlet(host: str = "http://news.example") -> dict[str, Page]:
    """Robots.txt with a disallowed path, a chunked RSS feed, a sitemap index, odd HTTP details."""
    h = host
    rss_items = "".join(
        f"<item><title>A{i}</title><link>{h}/opinion/a{i}.html{q}</link></item>"
        for i, q in ((1, "?utm_source=rss&amp;utm_medium=feed"), (2, ""), (3, ""))
    )
    rss_items += f"<item><title>Hidden</title><link>{h}/private/secret.html</link></item>"
    pages = {
        f"{h}/robots.txt": Page(
            b"User-agent: *\nDisallow: /private/\n", headers=[("Content-Type", "text/plain")]
        ),
        f"{h}/feed.xml": Page(
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>{rss_items}'
            "</channel></rss>".encode(),
            headers=[("Content-Type", "application/rss+xml; charset=utf-8")],
            chunked=True,
            chunk_size=100,
        ),
        f"{h}/sitemap_index.xml": Page(
            f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<sitemap><loc>{h}/sitemap-news.xml</loc></sitemap></sitemapindex>".encode(),
            headers=[("Content-Type", "application/xml")],
        ),
        f"{h}/sitemap-news.xml": Page(
            f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<url><loc>{h}/opinion/a2.html</loc></url>"
            f"<url><loc>{h}/opinion/a4.html?page=1&amp;x=%7Ey</loc></url>"
            f"<url><loc>{h}/opinion/a5.html</loc></url></urlset>".encode(),
            headers=[("Content-Type", "application/xml")],
            gzip=True,
        ),
        f"{h}/opinion/a1.html?utm_source=rss&utm_medium=feed": Page.html(
            article_html(1, "First opinion"),
            reason="Everything Fine Here",
            headers=[
                ("x-served-BY", "edge-7"),
                ("Cache-Control", "max-age=60"),
                ("x-served-by", "origin"),
            ],
        ),
        f"{h}/opinion/a2.html": Page.html(
            article_html(2, "Second opinion"),
            gzip=True,
            etag='"v2"',
            last_modified="Wed, 25 Nov 2026 10:00:00 GMT",
        ),
        f"{h}/opinion/a3.html": Page.html(
            article_html(3, "Third opinion"), chunked=True, chunk_size=300
        ),
        f"{h}/opinion/a4.html?page=1&x=%7Ey": Page.html(article_html(4, "Fourth opinion")),
        f"{h}/opinion/a5.html": Page.redirect(f"{h}/opinion/a5-moved.html"),
        f"{h}/opinion/a5-moved.html": Page.html(article_html(5, "Fifth opinion")),
        f"{h}/private/secret.html": Page.html(article_html(99, "Never fetch me")),
    }
    return pages


def small_outlet_sources(host: str = "http://news.example", name: str = "news") -> str:
    domain = host.split("://", 1)[1]
    return (
        f'[[source]]\nname = "{name}"\nfeeds = ["{host}/feed.xml"]\n'
        f'sitemaps = ["{host}/sitemap_index.xml"]\nallowed_domains = ["{domain}"]\n'
        "crawl_delay = 0.0\n"
    )


def bulk_outlet(host: str, articles: int, *, big_every: int = 4) -> dict[str, Page]:
    """An outlet with ``articles`` article pages in its RSS feed; every ``big_every``-th page
    carries a large inline JSON blob (as Next.js pages do), making it over 300 KB."""
    h = host
    items = "".join(
        f"<item><title>Bulk {i}</title><link>{h}/opinion/bulk-{i}.html</link></item>"
        for i in range(articles)
    )
    pages = {
        f"{h}/robots.txt": Page(
            b"User-agent: *\nAllow: /\n", headers=[("Content-Type", "text/plain")]
        ),
        f"{h}/feed.xml": Page(
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>Bulk</title>{items}'
            "</channel></rss>".encode(),
            headers=[("Content-Type", "application/rss+xml; charset=utf-8")],
        ),
    }
    for i in range(articles):
        n = zlib.crc32(host.encode()) % 10_000 * 100 + i  # a text of its own for every page
        html = article_html(n, f"Bulk opinion {i} of {host}", paras=6)
        if big_every and i % big_every == 0:
            blob = '{"props":{"cache":"' + ("x7" * 160_000) + '"}}'
            html = html.replace(
                "</head>",
                f'<script id="__NEXT_DATA__" type="application/json">{blob}</script></head>',
            )
        pages[f"{h}/opinion/bulk-{i}.html"] = Page.html(html)
    return pages


def bulk_outlet_sources(host: str, name: str) -> str:
    domain = host.split("://", 1)[1]
    return (
        f'[[source]]\nname = "{name}"\nfeeds = ["{host}/feed.xml"]\n'
        f'allowed_domains = ["{domain}"]\ncrawl_delay = 0.0\n'
    )
