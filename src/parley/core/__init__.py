"""Cross-cutting pieces: settings, the error tree, logging."""
