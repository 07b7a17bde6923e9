"""Extraction: an article's fields from a page, in worker processes."""
