"""The management API under /api/v1: JSON in and out, described at /api/v1/openapi.json."""
