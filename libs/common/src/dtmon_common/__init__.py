"""Shared by every dtmon service: topic names, flag/environment configuration, logging."""
