"""Package-database readers, one module per family; each takes bytes, returns packages."""
