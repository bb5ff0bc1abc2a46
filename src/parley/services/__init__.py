"""Services: Parley's rules. They work inside a unit of work and only flush."""
