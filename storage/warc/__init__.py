"""WARC files: writing records, reading and validating them."""
