"""Web servers on 127.0.0.1 for the demo, the tests and the benchmarks."""
