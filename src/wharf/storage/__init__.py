"""Blob storage behind a small driver interface that knows nothing of OCI."""
