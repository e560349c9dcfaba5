"""(filled in by its resource work)."""
