"""Helpers for mltrack's own tests and benchmarks (not imported by ``import mltrack_sdk``).

- :mod:`mltrack_sdk.testing.postgres`: start a throwaway Postgres from Debian's binaries.
"""
