"""Storage: WARC writing and reading, object stores, the catalog, indexes and packages."""
