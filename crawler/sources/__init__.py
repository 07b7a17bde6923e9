"""Sources and discovery: the sources file, feeds, sitemaps, listings, URLs."""
