"""Image signatures: cosign and Notary v2 signatures found, verified against a project's
trusted keys, required on pull by policy, checked at cluster admission, and counted."""
