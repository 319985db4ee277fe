"""``zobench list``, ``zobench info`` and ``zobench plugins``: what is installed, and how."""

from __future__ import annotations

import dataclasses
import inspect
import json
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.text import Text

from zobench import kinds
from zobench.cli.display import (
    add_prose_column,
    add_whole_column,
    fitted_table,
    format_value,
    plain,
)
from zobench.config import FieldInfo, describe
from zobench.errors import UsageError
from zobench.plugins import get_host
from zobench.presets import Preset

PROVENANCE_LABEL = {
    "paper": "paper",
    "author-code": "author's code",
    "library": "wrapped library",
    "ours": "ours",
}


def _kind(value: str | None) -> str | None:
    """The kind named on the command line (singular, plural or alias, any case), if any."""
    return None if value is None else kinds.canonical(value, loose=True)


PLURAL: dict[str, str] = {kind.name: kind.plural for kind in kinds.KINDS}
"""How listings title each kind."""


def _paragraphs(docstring: str) -> str:
    """A docstring's paragraphs, each on one line, for the terminal to wrap at its own width."""
    text = inspect.cleandoc(docstring)
    return "\n\n".join(" ".join(p.split()) for p in text.split("\n\n") if p.strip())


def _default_text(value: Any) -> str:
    if value is dataclasses.MISSING:
        return "(required)"
    return format_value(value)


def _json_default(value: Any) -> Any:
    if value is dataclasses.MISSING:
        return None
    return list(value) if isinstance(value, tuple) else value


@click.command("list")
@click.argument("kind", required=False)
@click.option(
    "--long", "long_", is_flag=True, help="Add distribution, version and whole summaries."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines instead of a table.")
def list_command(kind: str | None, long_: bool, as_json: bool) -> None:
    """List installed components, one line each, grouped by kind.

    KIND narrows the list to one of: algorithm, environment, preference, topology,
    executor, suite, preset (plurals work too). --long adds each component's plugin distribution and
    version, and shows summaries whole.

    \b
    Examples:
      zobench list
      zobench list algorithms --long
      zobench list --json
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
    console = Console()
    for kind_name in kinds.NAMES:
        members = [r for r in regs if r.kind == kind_name]
        if not members:
            continue
        table = fitted_table(f"{PLURAL[kind_name]} ({len(members)})", show_header=long_)
        add_whole_column(table, "name", [r.name for r in members])
        if long_:
            add_whole_column(table, "distribution", [r.distribution for r in members])
            add_whole_column(table, "version", [r.version for r in members])
        add_prose_column(table, "summary", one_line=not long_)
        for r in members:
            cells = [r.name, *([r.distribution, r.version] if long_ else []), r.summary]
            table.add_row(*(escape(c) for c in cells))
        console.print(table)


SUITE_SETTINGS = "suite"
"""``zobench info suite`` describes the settings every suite file takes at its top level."""


def _suite_settings(name: str) -> list[FieldInfo] | None:
    """The suite-level settings ``zobench info`` shows for ``name``, or ``None`` if it names none."""
    from zobench.bench.suite import SuiteSettings

    fields = describe(SuiteSettings)
    if name == SUITE_SETTINGS:
        return fields
    return [f for f in fields if f.name == name] or None


def _print_settings(console: Console, fields: list[FieldInfo], title: str) -> None:
    """Settings as a definition list: one unbroken line of name, type, default and its source,
    then the meaning, wrapped at spaces; readable at any width."""
    console.print(f"\n[bold]{escape(title)}[/bold]")
    for f in fields:
        header = Text.assemble(
            ("  " + f.name, "bold"),
            f"  {f.type} = {_default_text(f.default)}",
            (f"  (default: {PROVENANCE_LABEL.get(f.source, f.source)})", "dim"),
        )
        console.print(header, soft_wrap=True, highlight=False)
        if f.doc:
            console.print(Padding(Text(plain(f.doc)), (0, 0, 0, 6)), highlight=False)
        if f.tune:
            console.print(Padding(Text(f"tuned over: {f.tune}", style="dim"), (0, 0, 0, 6)))


def _fields_json(fields: list[FieldInfo]) -> list[dict[str, Any]]:
    return [
        {
            "name": f.name,
            "type": f.type,
            "default": _json_default(f.default),
            "default_from": f.source,
            "meaning": f.doc,
            "tuned_over": f.tune or None,
        }
        for f in fields
    ]


@click.command("info")
@click.argument("name")
@click.option("--kind", help="Which kind, when NAME is registered for more than one.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
@click.option(
    "--toml", "as_toml", is_flag=True, help="For a suite: print its TOML file alone, unwrapped."
)
def info_command(name: str, kind: str | None, as_json: bool, as_toml: bool) -> None:
    """Describe a component: summary, source, and every setting with its default.

    The default's source says whether it is the paper's, the paper author's code's, the wrapped
    library's own (Gymnasium's, for gym:<EnvId>), or ours (a documented choice where the paper
    is silent). `zobench info suite` lists the settings a
    suite file takes at its top level (iterations, seeds, ...); `zobench info iterations`
    describes one of them.

    \b
    Examples:
      zobench info zpg
      zobench info quickstart --toml > my-suite.toml
      zobench info suite
    """
    host = get_host()
    suite_fields = None if kind or host.components_named(name) else _suite_settings(name)
    if suite_fields is not None:
        if as_json:
            click.echo(
                json.dumps(
                    {"kind": "suite settings", "settings": _fields_json(suite_fields)}, indent=2
                )
            )
            return
        _print_settings(Console(), suite_fields, "suite settings (top level of a suite file)")
        return
    reg = host.get(kinds.canonical(kind, loose=True), name) if kind else host.find(name)
    if as_toml:
        if reg.kind != "suite":
            raise UsageError(f"--toml applies to suites; '{reg.name}' is a {reg.kind}")
        click.echo(reg.obj.toml.strip())
        return
    if reg.kind == "preset":
        _show_preset(reg.obj, as_json)
        return
    source = getattr(reg.obj, "source", "")
    doc = _paragraphs(plain(reg.obj.__doc__ or "")) if reg.kind != "suite" else ""
    fields = describe(reg.obj.Config) if reg.kind != "suite" else []
    if as_json:
        record: dict[str, Any] = {
            "name": reg.name,
            "kind": reg.kind,
            "summary": reg.summary,
            "source": source,
            "distribution": reg.distribution,
            "version": reg.version,
            "plugin": reg.plugin,
        }
        if reg.kind == "suite":
            record["toml"] = reg.obj.toml
        else:
            record["doc"] = doc
            if reg.kind == "algorithm":
                record["consumes"] = sorted(str(c) for c in getattr(reg.obj, "consumes", ()))
            record["settings"] = _fields_json(fields)
        click.echo(json.dumps(record, indent=2))
        return
    console = Console()
    console.print(f"[bold]{escape(reg.name)}[/bold]  ({reg.kind})", soft_wrap=True)
    console.print(escape(reg.summary))
    if source:
        console.print(f"source: {escape(source)}")
    console.print(
        f"plugin: {escape(reg.distribution)} {escape(reg.version)} ({escape(reg.plugin)})",
        soft_wrap=True,
    )
    if reg.kind == "suite":
        # Printed unwrapped: wrapping would break strings and comments, and the TOML would no
        # longer parse when copied (or use --toml).
        console.print()
        console.print(escape(reg.obj.toml.strip()), highlight=False, soft_wrap=True)
        return
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
    if not fields:
        console.print("\nno settings")
        return
    _print_settings(console, fields, "settings")
    if reg.kind == "algorithm":
        _print_presets(console, [p for p in host.presets() if p.algorithm == reg.name])


def _print_presets(console: Console, presets: list[Preset]) -> None:
    """The algorithm's presets and the order in which settings resolve."""
    console.print(
        "\n[bold]resolution[/bold]: what the suite writes > the matching preset > the default"
    )
    if not presets:
        console.print("no presets")
        return
    console.print("[bold]presets[/bold]")
    for preset in presets:
        console.print(f"  {escape(preset.name)}", soft_wrap=True, style="bold")
        console.print(Padding(Text(f"on {preset.instance_text()}"), (0, 0, 0, 6)))
        settings = ", ".join(f"{k} = {format_value(v)}" for k, v in preset.settings.items())
        console.print(Padding(Text(settings), (0, 0, 0, 6)))
        protocol = ", ".join(f"{k} = {format_value(v)}" for k, v in preset.protocol.items())
        if protocol:
            console.print(Padding(Text(f"protocol: {protocol}", style="dim"), (0, 0, 0, 6)))


def _show_preset(preset: Preset, as_json: bool) -> None:
    if as_json:
        record = {
            "name": preset.name,
            "kind": "preset",
            "algorithm": preset.algorithm,
            "environment": {"name": preset.environment, **preset.environment_params},
            "preference": (
                {"name": preset.preference, **preset.preference_params}
                if preset.preference
                else None
            ),
            "settings": dict(preset.settings),
            "protocol": dict(preset.protocol),
            "source": preset.source,
        }
        click.echo(json.dumps(record, indent=2))
        return
    console = Console()
    console.print(f"[bold]{escape(preset.name)}[/bold]  (preset)", soft_wrap=True)
    console.print(f"{escape(preset.algorithm)} on {escape(preset.instance_text())}")
    console.print(f"from: {escape(preset.source)}", soft_wrap=True)
    _print_presets(console, [preset])


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
    table = fitted_table(f"zobench plugins ({len(host.plugins)})")
    # names, versions and states stay whole; the hooks and any errors wrap at spaces
    add_whole_column(table, "plugin", [p.name for p in host.plugins])
    releases = [f"{p.distribution} {p.version}" for p in host.plugins]
    add_whole_column(table, "distribution", releases)
    add_whole_column(table, "status", [p.status for p in host.plugins])
    add_prose_column(table, "hooks · errors")
    for p, release in zip(host.plugins, releases, strict=True):
        hooks = ", ".join(h.removeprefix("zobench_register_") for h in p.hooks)
        status = escape(p.status) if not p.errors else f"[red]{escape(p.status)}[/red]"
        about = " · ".join(part for part in (hooks, "; ".join(p.errors)) if part)
        table.add_row(escape(p.name), escape(release), status, escape(about))
    Console().print(table)


def register(group: click.Group) -> None:
    """Add this module's commands to the ``zobench`` group."""
    for command in (list_command, info_command, plugins_command):
        group.add_command(command)
