"""Reports and metrics over calls."""
