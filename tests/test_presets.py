"""Presets: tuned settings as data, registered through a hook, matched to a run's instance."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from zobench.cli import cli
from zobench.plugins import get_host
from zobench.presets import Preset, PresetError, best_match, dump_presets, load_presets

FILE = """
[[preset]]
algorithm = "zpg"
environment = { name = "gridworld" }
settings = { step_size = 0.03 }
[preset.protocol]
trials = 20
seeds = [1000, 1001, 1002]

[[preset]]
algorithm = "zpg"
environment = { name = "gridworld", slip = 0.3 }
settings = { step_size = 0.05, mu = 2.0 }

[[preset]]
algorithm = "zpg"
environment = "gridworld"
preference = { name = "weibull" }
settings = { step_size = 0.02 }
"""


def match(env_params: dict, preference: str = "bradley-terry") -> Preset | None:
    presets = load_presets(FILE, source="test")
    return best_match(presets, "zpg", "gridworld", env_params, preference, {"scale": 1.0})


def test_a_file_round_trips_through_dump() -> None:
    presets = load_presets(FILE, source="test")
    assert load_presets(dump_presets(presets), source="test") == presets
    assert presets[0].protocol == {"trials": 20, "seeds": [1000, 1001, 1002]}


def test_the_most_specific_preset_wins() -> None:
    assert match({"slip": 0.2, "size": 5}).settings == {"step_size": 0.03}
    assert match({"slip": 0.3, "size": 5}).settings == {"step_size": 0.05, "mu": 2.0}
    assert match({"slip": 0.2}, preference="weibull").settings == {"step_size": 0.02}
    presets = load_presets(FILE, source="test")
    assert best_match(presets, "zbcpg", "gridworld", {}, "weibull", {}) is None
    assert best_match(presets, "zpg", "net-gridworld", {}, "weibull", {}) is None


def test_two_equally_specific_presets_are_an_error() -> None:
    twice = FILE + FILE.split("\n\n")[0].replace("0.03", "0.04")
    with pytest.raises(PresetError, match="both match zpg on gridworld"):
        best_match(load_presets(twice, source="t"), "zpg", "gridworld", {}, "probit", {})


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[[preset]]\nalgorithm = 1", "preset[0].algorithm"),
        ('[[preset]]\nalgorithm = "zpg"', "preset[0].environment: required"),
        ('[[preset]]\nalgorithm = "zpg"\nenvironment = "g"', "preset[0].settings"),
        ('[[preset]]\nalgorithm = "zpg"\nenvironment = 3\nsettings = {a = 1}', "environment"),
        ('[[preset]]\nalgorith = "zpg"', "preset[0].algorith: unknown key"),
        ("presets = 1", "presets: unknown key"),
        ("[[preset]\n", "invalid TOML"),
    ],
)
def test_mistakes_name_their_toml_path(text: str, fragment: str) -> None:
    with pytest.raises(PresetError, match=r"^f\.toml: ") as info:
        load_presets(text, source="f.toml")
    assert fragment in str(info.value)


PLUGIN = '''
import zobench
from zobench.presets import load_presets

TEXT = """
[[preset]]
algorithm = "zpg"
environment = { name = "gridworld", size = 7 }
settings = { step_size = 0.02 }
[preset.protocol]
trials = 12
"""

@zobench.hookimpl
def zobench_register_presets(register):
    for preset in load_presets(TEXT, source="zobench-tuned"):
        register(preset)
'''


def test_a_third_party_ships_presets_through_the_hook(zobench_distribution, clean_plugin_env):
    zobench_distribution(
        "zobench-tuned", {"tuned": "zobench_tuned"}, modules={"zobench_tuned.py": PLUGIN}
    )
    names = get_host().names("preset")
    assert "zpg.gridworld.size-7" in names
    listed = CliRunner().invoke(cli, ["list", "presets", "--json"])
    assert listed.exit_code == 0, listed.output
    row = next(r for r in json.loads(listed.stdout) if r["name"] == "zpg.gridworld.size-7")
    assert row["distribution"] == "zobench-tuned"
    info = CliRunner(env={"COLUMNS": "80"}).invoke(cli, ["info", "zpg"])
    assert "zpg.gridworld.size-7" in info.output
    assert "step_size = 0.02" in info.output
    assert "protocol: trials = 12" in info.output
    shown = json.loads(CliRunner().invoke(cli, ["info", "zpg.gridworld.size-7", "--json"]).output)
    assert shown["environment"] == {"name": "gridworld", "size": 7}


SUITE = """
name = "preset-check"
seeds = 1
iterations = 6
eval_every = 3
[environment]
name = "gridworld"
size = 3
goal = [2, 2]
horizon = 6
[preference]
name = "bradley-terry"
[[algorithm]]
name = "zpg"
pairs = 8
"""

TUNED = '''
import zobench
from zobench.presets import load_presets

@zobench.hookimpl
def zobench_register_presets(register):
    text = """
[[preset]]
algorithm = "zpg"
environment = { name = "gridworld", size = 3 }
settings = { step_size = 0.2, mu = 2.0 }
"""
    for preset in load_presets(text, source="zobench-tuned"):
        register(preset)
'''


def test_a_matching_preset_fills_what_the_suite_leaves_out(
    zobench_distribution, clean_plugin_env, tmp_path
) -> None:
    from zobench.bench import scheduler
    from zobench.bench.identity import identify
    from zobench.bench.store import Store, load
    from zobench.bench.suite import parse_suite

    # a module name of its own: another test imported a zobench_tuned already
    zobench_distribution(
        "zobench-tuned", {"tuned": "zobench_tuned_small"}, modules={"zobench_tuned_small.py": TUNED}
    )
    suites = {
        "preset": SUITE,
        "written": SUITE + "mu = 2.0\nstep_size = 0.2\n",
        "suite wins": SUITE + "step_size = 0.05\n",
        "off": "presets = false\n" + SUITE,
    }
    resolved = {}
    frames = {}
    for key, text in suites.items():
        spec = parse_suite(text).runs()[0]
        identity = identify(spec)
        resolved[key] = identity.resolved
        out = tmp_path / key.replace(" ", "-")
        scheduler.schedule(parse_suite(text), out, executor=scheduler.make_executor("serial"))
        frames[key] = load(out).select("iteration", "score")
        record = next(Store(out).records())
        assert record["resolved"] == identity.resolved
    algorithm = {k: r["algorithm"]["params"] for k, r in resolved.items()}
    assert (algorithm["preset"]["step_size"], algorithm["preset"]["mu"]) == (0.2, 2.0)
    assert resolved["preset"]["preset"]["name"] == "zpg.gridworld.size-3"
    assert algorithm["suite wins"]["step_size"] == 0.05
    assert algorithm["suite wins"]["mu"] == 2.0
    from zobench.plugins import get_host

    default = get_host().get("algorithm", "zpg").obj.Config().step_size
    assert algorithm["off"]["step_size"] == default  # the component default
    assert "preset" not in resolved["off"]
    assert frames["preset"].equals(frames["written"])  # the preset computes what it says
    assert not frames["preset"].equals(frames["off"])


@pytest.mark.usefixtures("clean_plugin_env")
@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (
            'algorithm = "zpg"\nenvironment = "gridworld"\nsettings = { step_sise = 0.1 }',
            "step_sise",
        ),
        ('algorithm = "zpg"\nenvironment = "gridworld"\nsettings = { pairs = "8" }', "pairs"),
        ('algorithm = "zpgg"\nenvironment = "gridworld"\nsettings = { mu = 1.0 }', "zpgg"),
        (
            'algorithm = "zpg"\nenvironment = { name = "gridworld", sise = 5 }\nsettings = { mu = 1.0 }',
            "sise",
        ),
    ],
)
def test_the_kit_rejects_a_preset_that_would_fail_its_runs(text: str, fragment: str) -> None:
    from zobench.testing import check_component

    preset = load_presets("[[preset]]\n" + text, source="test")[0]
    with pytest.raises(AssertionError, match=fragment):
        check_component(preset)
