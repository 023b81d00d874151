"""wharf: a private, OCI-compliant container registry."""

__version__ = "0.1.0"
