"""Retention policies, online garbage collection and storage reports."""
