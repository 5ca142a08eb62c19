"""Prefect flows: rebuild, backfill and parity."""
