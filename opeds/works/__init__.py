"""Works: MinHash sketches, clustering of copies, the choice of the original."""
