"""`make bench`: benchmarks of the serving foundation, reported as ratios measured side by side."""
