"""The `wharf` command line."""
