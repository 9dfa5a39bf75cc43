"""Search strategies, one per module; each registers under `reason.searchers`."""
