"""Webhooks out: other county systems subscribe to domain events and receive them signed (issue 16, part 5)."""
