"""Persistent MinHash-LSH index tables (placeholder until the clustering index lands)."""
