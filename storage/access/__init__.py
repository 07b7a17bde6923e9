"""How archivists reach the records: CDXJ indexes, WACZ packages, `get` and `export`, replay in
pywb."""
