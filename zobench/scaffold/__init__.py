"""Templates of ``zobench new plugin``: plain text rendered with :class:`string.Template`.

``templates/`` holds one file per generated file; ``$name``-style placeholders are filled in by
:mod:`zobench.cli.scaffold` (``$$`` is a literal dollar). They end in ``.tmpl`` so that neither
pytest nor ruff mistakes them for zobench's own code.
"""
