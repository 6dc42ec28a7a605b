"""Joint-operations settlement: agreements as code, signed statements, and the sandbox."""
