"""Alembic migrations, shipped inside the package so an installed Parley can migrate itself."""
