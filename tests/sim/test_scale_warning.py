"""A preference scale far below the return differences makes votes saturate: the run says so."""

from __future__ import annotations

import warnings

import pytest

import zobench
from zobench.errors import PreferenceScaleWarning


def scale_warnings(environment: str, scale: float, **environment_params) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        zobench.run_one(
            algorithm="zpg",
            algorithm_params={"pairs": 20, "evaluators": 5},
            environment=environment,
            environment_params=environment_params,
            preference_params={"scale": scale},
            seed=0,
            iterations=3,
            eval_every=3,
        )
    return [str(w.message) for w in caught if issubclass(w.category, PreferenceScaleWarning)]


@pytest.mark.usefixtures("clean_plugin_env")
def test_a_saturating_scale_warns_once_and_names_the_setting() -> None:
    messages = scale_warnings("gridworld", 0.01)
    assert len(messages) == 1
    assert "votes saturate" in messages[0]
    assert "[preference] scale =" in messages[0]


@pytest.mark.usefixtures("clean_plugin_env")
@pytest.mark.parametrize(("environment", "scale"), [("gridworld", 1.0), ("net-gridworld", 1.0)])
def test_a_sane_scale_does_not_warn(environment: str, scale: float) -> None:
    # net-gridworld's greedy reference: its exact optimum (25 s) is not what is tested here
    params = {"reference": "greedy"} if environment == "net-gridworld" else {}
    assert scale_warnings(environment, scale, **params) == []
