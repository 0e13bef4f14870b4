"""Mailroom's domain: the email task, its lifecycle and the email it carries. Standard library only."""
