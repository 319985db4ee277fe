"""Built-in preference-model (link function) plugins."""
