"""Durable state of the box: registry, encrypted secrets, audit log, locks."""
