"""``zobench new plugin NAME``: scaffold a plugin distribution from the templates in zobench.scaffold.

The generated directory is a complete pip package: ``pyproject.toml`` with the ``zobench`` entry
point, ``src/<package>/`` with one small working component of the chosen kind (its ``Config``
declared with :func:`zobench.api.param`), ``tests/`` using the conformance kit, and a README. Its
tests pass straight after ``pip install -e``.
"""

from __future__ import annotations

import keyword
import re
import string
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import click

from zobench import kinds
from zobench.__about__ import __version__
from zobench.errors import UnknownComponentError, ZobenchError, did_you_mean

PLUGIN_NAME = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
"""A plugin's distribution name: lower-case words joined by dashes (also a valid registry name)."""

RESERVED_NAMES = frozenset({"zobench", "zobench-plugins", "zobench-example", "test", "tests"})
"""Names whose package would shadow zobench's own modules or confuse pytest."""


@dataclass(frozen=True)
class Template:
    """What the scaffold generates for one kind of component (the kind's hook comes from its
    :mod:`zobench.kinds` record)."""

    module: str
    summary: str
    suite: str


TEMPLATES: dict[str, Template] = {
    kinds.ALGORITHM.name: Template(
        "algorithm",
        "a preference-only hill-climbing algorithm.",
        '[environment]\nname = "gridworld"\n\n[[algorithm]]\nname = "$component"\n\n'
        '[[algorithm]]\nname = "zpg"            # a built-in baseline, by name',
    ),
    kinds.ENVIRONMENT.name: Template(
        "environment",
        "a slippery corridor environment with exact transition tables.",
        '[environment]\nname = "$component"\nlength = 8\n\n[[algorithm]]\nname = "zpg"\n\n'
        '[[algorithm]]\nname = "uniform"        # the lower reference',
    ),
    kinds.PREFERENCE.name: Template(
        "preference",
        "a Cauchy (arctangent) preference link.",
        '[environment]\nname = "gridworld"\n\n[preference]\nname = "$component"\n\n'
        '[[algorithm]]\nname = "zpg"',
    ),
    kinds.TOPOLOGY.name: Template(
        "topology",
        "a ring-lattice network topology.",
        '[environment]\nname = "net-gridworld"\n\n[topology]\nname = "$component"\nk = 1\n\n'
        '[[algorithm]]\nname = "dzopg"',
    ),
}
"""The kinds ``zobench new plugin --kind`` can scaffold (executors and suites are rarer; copy
a built-in one)."""


def _template(name: str) -> string.Template:
    text = resources.files("zobench.scaffold").joinpath("templates", f"{name}.tmpl")
    return string.Template(text.read_text(encoding="utf-8"))


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


def check_name(name: str) -> str:
    """The plugin's Python package name for ``name``, or a one-line :class:`ZobenchError`."""
    if not PLUGIN_NAME.match(name):
        raise ZobenchError(
            f"invalid plugin name {name!r}: use lower-case words joined by dashes, "
            "starting with a letter (e.g. 'zobench-my-method')"
        )
    package = name.replace("-", "_")
    if name in RESERVED_NAMES or keyword.iskeyword(package):
        raise ZobenchError(f"plugin name '{name}' is reserved; choose another, e.g. 'my-{name}'")
    return package


def check_kind(kind: str) -> str:
    """The canonical kind for ``kind`` (singular, plural or short form), or a clear error."""
    try:
        name = kinds.canonical(kind, loose=True)
    except UnknownComponentError:
        name = kind.lower()
    if name not in TEMPLATES:
        raise ZobenchError(
            f"cannot scaffold kind '{name}'{did_you_mean(name, TEMPLATES)}; "
            f"choose one of: {', '.join(TEMPLATES)}"
        )
    return name


def render(name: str, kind: str) -> dict[str, str]:
    """The scaffold's files, relative path → text, for plugin ``name`` of ``kind``."""
    package, kind = check_name(name), check_kind(kind)
    spec = TEMPLATES[kind]
    component = name.removeprefix("zobench-")
    values = {
        "name": name,
        "package": package,
        "entry": component,
        "component": component,
        "cls": _camel(component),
        "kind": kind,
        "module": spec.module,
        "hook": kinds.BY_NAME[kind].hook,
        "summary": spec.summary,
        "zobench_version": __version__,
    }
    values["kind_tests"] = _template(f"tests_{kind}.py").substitute(values)
    values["suite_example"] = (
        f'name = "{component}-comparison"\nseeds = 3\niterations = 200\n\n'
        + string.Template(spec.suite).substitute(values)
    )
    return {
        "pyproject.toml": _template("pyproject.toml").substitute(values),
        "README.md": _template("README.md").substitute(values),
        f"src/{package}/__init__.py": _template("__init__.py").substitute(values),
        f"src/{package}/{spec.module}.py": _template(f"{spec.module}.py").substitute(values),
        "tests/test_plugin.py": _template("test_plugin.py").substitute(values),
    }


def scaffold_plugin(name: str, kind: str = "algorithm", output: Path | str = ".") -> Path:
    """Write the plugin ``name`` of ``kind`` into ``output/name``; refuses an existing path."""
    files = render(name, kind)
    component = name.removeprefix("zobench-")
    from zobench.plugins import get_host

    canonical = check_kind(kind)
    if component in get_host().names(canonical):
        owner = get_host().get(canonical, component).distribution
        raise ZobenchError(
            f"'{component}' is already the name of an installed {canonical} (from {owner}); "
            "choose another NAME"
        )
    target = Path(output) / name
    if target.exists():
        raise ZobenchError(f"{target} already exists; choose another NAME or --output")
    target.mkdir(parents=True)
    for relative, text in files.items():
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target


@click.group("new")
def new_group() -> None:
    """Create new things from templates.

    \b
    Examples:
      zobench new plugin zobench-my-method
      zobench new plugin my-link --kind preference --output ~/code
    """


@new_group.command("plugin")
@click.argument("name")
@click.option(
    "--kind",
    default="algorithm",
    show_default=True,
    help="algorithm, environment, preference or topology.",
)
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Directory to create the plugin's folder in.",
)
def plugin_command(name: str, kind: str, output: Path) -> None:
    """Scaffold a plugin distribution NAME with one working component of --kind.

    NAME is the distribution name (lower-case words and dashes); the component is registered
    as NAME without a leading 'zobench-'. The folder holds pyproject.toml (hatchling, the
    'zobench' entry point), the module, tests using zobench's conformance kit and a README;
    its tests pass straight after `pip install -e`.

    \b
    Examples:
      zobench new plugin zobench-my-method
      zobench new plugin my-corridor --kind environment --output plugins
      cd zobench-my-method && pip install -e ".[test]" && python -m pytest
    """
    target = scaffold_plugin(name, kind, output)
    click.echo(f"Created {check_kind(kind)} plugin '{name}' in {target}")
    click.echo("Next:")
    click.echo(f'  pip install -e "{target}[test]"')
    click.echo(f"  cd {target} && python -m pytest")


def register(group: click.Group) -> None:
    """Add ``zobench new`` to the ``zobench`` group."""
    group.add_command(new_group)
