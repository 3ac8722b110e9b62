"""The ``deputy`` command."""
