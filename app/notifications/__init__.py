"""Notifications: in-app messages with an unread count, and an email outbox sent after commit."""
