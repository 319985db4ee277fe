"""Built-in topology plugins."""
