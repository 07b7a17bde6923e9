"""Crawler: sources, discovery, the Scrapy spider and the faithful capture of HTTP exchanges."""
