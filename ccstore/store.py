"""Store placeholder."""
