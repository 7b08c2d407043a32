"""Executors: ways to run datum sets (local processes today; Ray and Dask later)."""
