"""Background tasks: commands, the queue seam, and the worker that runs them."""
