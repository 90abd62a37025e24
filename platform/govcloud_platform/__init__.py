"""govcloud's core: spec, box runtime, brokers, apps, IaaS runner and state. Never prints."""

__version__ = "0.1.0"
