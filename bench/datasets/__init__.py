"""Helpers of bench.data that stand on their own (file formats); the entry point is bench.data."""
