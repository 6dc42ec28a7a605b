"""The coordinator: query planning, routing, matching and release, plus the client SDK."""
