"""Real local infrastructure (Kafka broker, MinIO) for development, `make run` and tests."""
