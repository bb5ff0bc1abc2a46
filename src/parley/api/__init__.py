"""The HTTP and WebSocket surface: routers translate requests to service calls and back."""
