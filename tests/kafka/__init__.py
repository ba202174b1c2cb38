"""Integration tests and helpers that need a real Apache Kafka broker."""
