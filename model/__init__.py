"""Plain types shared by every layer: query results, node messages, domain errors, sizes."""
