"""What every benchmark shares: statistics, tables, process meters and a Parley cluster."""
