"""Running datums: materialise inputs, run user code in a sandbox, store outputs."""
