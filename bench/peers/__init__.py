"""What users would pick instead of Parley (peers) and the least Python can do (floors)."""
