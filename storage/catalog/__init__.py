"""The catalog: captures, articles, works, nights; search."""
