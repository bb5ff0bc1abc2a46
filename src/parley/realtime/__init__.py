"""Real-time delivery: frames, the broker, the per-process hub, sockets and presence."""
