"""The pipeline's moving parts, free of Prefect: plan, work units, progress, reports."""
