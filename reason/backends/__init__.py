"""Generation backends behind the `Generator` seam. Each imports its heavy library lazily."""
