"""Crawl and capture: the spider, the archiving download handler, the WARC writer process, resuming
and recovering a night's crawl."""
