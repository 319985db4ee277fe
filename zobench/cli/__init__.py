"""The ``zobench`` command line (click + rich). One module per command group."""

from __future__ import annotations

import sys
import warnings

import click

from zobench.__about__ import __version__
from zobench.errors import ZobenchError


class UserError(click.ClickException):
    """A ZobenchError shown as one ``Error:`` line with exit code 2."""

    exit_code = 2


class ZobenchGroup(click.Group):
    """A click group that turns zobench's user errors into one line and exit code 2."""

    def invoke(self, ctx: click.Context) -> object:
        """Run the subcommand; a :class:`ZobenchError` becomes a :class:`UserError`."""
        try:
            return super().invoke(ctx)
        except ZobenchError as exc:
            raise UserError(str(exc).replace("\n", "\\n")) from None


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    from zobench.bench.store import StoreWarning
    from zobench.kinds import KindSpellingWarning
    from zobench.plugins import PluginLoadWarning

    if issubclass(category, (PluginLoadWarning, StoreWarning, KindSpellingWarning)):
        click.echo(f"warning: {message}", err=True)
    else:
        sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


@click.group(cls=ZobenchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="zobench")
def cli() -> None:
    """zobench: benchmark reward-free RLHF algorithms against their baselines.

    \b
    Examples:
      zobench run                      # the built-in quickstart suite
      zobench list algorithm           # what is installed
      zobench info zpg                 # a component's settings and sources
    """


def main() -> None:
    """Console-script entry point."""
    warnings.showwarning = _show_warning
    cli.main(prog_name="zobench")


from zobench.cli import inspect as _inspect  # noqa: E402  (commands register on import)
from zobench.cli import report as _report  # noqa: E402
from zobench.cli import runs as _runs  # noqa: E402
from zobench.cli import scaffold as _scaffold  # noqa: E402
from zobench.cli import tune as _tune  # noqa: E402

_inspect.register(cli)
_report.register(cli)
_runs.register(cli)
_scaffold.register(cli)
_tune.register(cli)
