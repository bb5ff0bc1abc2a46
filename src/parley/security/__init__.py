"""Password hashing and tokens."""
