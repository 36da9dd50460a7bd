"""dtmon api service."""
