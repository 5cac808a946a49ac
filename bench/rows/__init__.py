"""One module per group of rows in the benchmark table; each exposes ``rows(world, plan)``."""
