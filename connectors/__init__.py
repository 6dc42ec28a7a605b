"""Member data sources and identifier normalisation."""
