"""Built-in zobench plugins, loaded through the same entry points as third-party ones."""
