"""dtmon processor service."""
