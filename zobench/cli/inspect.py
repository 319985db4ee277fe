"""``zobench list``, ``zobench info`` and ``zobench plugins``: what is installed, and how."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from zobench import api
from zobench.config import describe
from zobench.errors import UnknownComponentError, did_you_mean
from zobench.plugins import get_host

PROVENANCE_LABEL = {"paper": "paper", "author-code": "author's code", "ours": "ours"}


KIND_ALIASES: dict[str, str] = {
    **{kind: kind for kind in api.KINDS},
    **{f"{kind}s": kind for kind in api.KINDS},
    "topologies": "topology",
    "preference": "preference-model",
    "preferences": "preference-model",
}
"""Accepted spellings of each kind on the command line (singular, plural, short)."""


def _kind(value: str | None) -> str | None:
    if value is None:
        return None
    value = KIND_ALIASES.get(value.lower(), value)
    if value not in api.KINDS:
        raise UnknownComponentError(
            f"unknown kind '{value}'{did_you_mean(value, api.KINDS)}; kinds: {', '.join(api.KINDS)}"
        )
    return value


def _default_text(value: Any) -> str:
    if value is dataclasses.MISSING:
        return "(required)"
    return json.dumps(list(value) if isinstance(value, tuple) else value)


@click.command("list")
@click.argument("kind", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines instead of a table.")
def list_command(kind: str | None, as_json: bool) -> None:
    """List installed components: name, kind, plugin distribution, version, summary.

    KIND narrows the list to one of: algorithm, environment, preference-model, topology,
    executor, suite (plurals work too).

    \b
    Examples:
      zobench list
      zobench list algorithms --json
    """
    regs = get_host().components(_kind(kind))
    if as_json:
        rows = [
            {
                "name": r.name,
                "kind": r.kind,
                "distribution": r.distribution,
                "version": r.version,
                "summary": r.summary,
            }
            for r in regs
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"zobench components ({len(regs)})", title_justify="left")
    for column in ("name", "kind", "distribution", "version", "summary"):
        table.add_column(column, overflow="fold")
    for r in regs:
        table.add_row(*(escape(x) for x in (r.name, r.kind, r.distribution, r.version, r.summary)))
    Console().print(table)


@click.command("info")
@click.argument("name")
@click.option("--kind", help="Which kind, when NAME is registered for more than one.")
def info_command(name: str, kind: str | None) -> None:
    """Describe a component: summary, source, and every setting with its default.

    The 'default from' column says whether a default is the paper's, the paper author's code's,
    or ours (a documented choice where the paper is silent).

    \b
    Examples:
      zobench info zpg
      zobench info quickstart --kind suite
    """
    host = get_host()
    reg = host.get(_kind(kind), name) if kind else host.find(name)
    console = Console()
    console.print(f"[bold]{escape(reg.name)}[/bold]  ({reg.kind})")
    console.print(escape(reg.summary))
    source = getattr(reg.obj, "source", "")
    if source:
        console.print(f"source: {escape(source)}")
    console.print(
        f"plugin: {escape(reg.distribution)} {escape(reg.version)} ({escape(reg.plugin)})"
    )
    if reg.kind == "suite":
        console.print()
        console.print(escape(reg.obj.toml.strip()), highlight=False)
        return
    doc = (reg.obj.__doc__ or "").strip()
    if doc:
        console.print()
        console.print(escape(doc), highlight=False)
    if reg.kind == "algorithm":
        consumes = sorted(str(c) for c in getattr(reg.obj, "consumes", ()))
        console.print(f"\nconsumes: {', '.join(consumes) or 'nothing'}")
        if "rewards" in consumes:
            console.print("[yellow]uses rewards[/yellow]: this algorithm reads true rewards.")
        if "model" in consumes:
            console.print("[yellow]uses the model[/yellow]: it reads the environment's tables.")
    fields = describe(reg.obj.Config)
    if not fields:
        console.print("\nno settings")
        return
    table = Table(title="settings", title_justify="left")
    for column in ("name", "type", "default", "default from", "meaning"):
        table.add_column(column, overflow="fold")
    for f in fields:
        table.add_row(
            escape(f.name),
            escape(f.type),
            escape(_default_text(f.default)),
            PROVENANCE_LABEL.get(f.source, f.source),
            escape(f.doc),
        )
    console.print(table)


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines instead of a table.")
def plugins_command(as_json: bool) -> None:
    """List plugin entry points: distribution, version, hooks, status and load failures.

    Plugins are entry points in group 'zobench'. ZOBENCH_PLUGINS (allowlist) and
    ZOBENCH_DISABLE_PLUGINS (blocklist) take comma-separated entry-point or distribution names;
    ZOBENCH_STRICT_PLUGINS=1 turns any load failure into an error.

    \b
    Examples:
      zobench plugins
      ZOBENCH_DISABLE_PLUGINS=zobench-example zobench plugins --json
    """
    host = get_host()
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(p) for p in host.plugins], indent=2))
        return
    table = Table(title=f"zobench plugins ({len(host.plugins)})", title_justify="left")
    for column in ("plugin", "distribution", "version", "hooks", "status"):
        table.add_column(column, overflow="fold")
    for p in host.plugins:
        hooks = ", ".join(h.removeprefix("zobench_register_") for h in p.hooks)
        status = (
            p.status if not p.errors else f"[red]{p.status}[/red]: " + escape("; ".join(p.errors))
        )
        table.add_row(escape(p.name), escape(p.distribution), escape(p.version), hooks, status)
    Console().print(table)


def register(group: click.Group) -> None:
    """Add this module's commands to the ``zobench`` group."""
    for command in (list_command, info_command, plugins_command):
        group.add_command(command)
