"""The sans-I/O OAuth core: requests in, responses out; no web framework, no SQL."""
