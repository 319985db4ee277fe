"""Built-in environment plugins."""
