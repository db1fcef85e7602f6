"""Benchmarks behind ``parkcarbon bench``: each prints a table (or one JSON object) of rates
measured in one run, with the machine's own ceilings measured in the same run as baselines."""
