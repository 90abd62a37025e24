"""The local target: the whole GovCloud on one machine, every shared service a real server on 127.0.0.1 (or on
one address of the host: `network`)."""
