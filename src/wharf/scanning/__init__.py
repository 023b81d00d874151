"""Vulnerability scanning: per-layer package inventories, OSV matching, push policy."""
