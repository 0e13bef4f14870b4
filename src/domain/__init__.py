"""Mailroom's domain: the email task, its lifecycle and its email. Standard library only."""
