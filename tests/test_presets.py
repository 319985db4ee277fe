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
