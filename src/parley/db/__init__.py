"""The data layer: engine, sessions, the unit of work and the ORM models."""
