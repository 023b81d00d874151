"""The OCI specs as pure functions: digests, names, media types, manifest parsing."""
