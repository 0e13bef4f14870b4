"""Implementations of the application's ports: task stores and queues, mailers."""
