"""The composition root: the one place that builds what `parley serve` and `parley worker`
run, from settings (each seam's implementation, the state requests read, the worker)."""
