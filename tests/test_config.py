"""Validation of plain mappings (TOML tables, keyword arguments) against Config dataclasses."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from zobench.api import EmptyConfig, PreferenceConfig, param
from zobench.config import as_dict, describe, validate
from zobench.errors import ConfigError, ZobenchError


@dataclass(frozen=True)
class Settings:
    """A Config with one field of every shape that suites use."""

    mu: float = param(0.1, "Smoothing radius.", source="paper")
    n: int = param(3, "How many.")
    flag: bool = param(False, "A switch.")
    mode: str = param("fast", "A word.", source="author-code")
    sizes: tuple[int, ...] = param((1, 2), "Any number of sizes.")
    pair: tuple[float, float] = param((0.0, 1.0), "Exactly two numbers.")
    grid: tuple[tuple[int, int], ...] = param(((0, 0),), "Cells (row, column).")
    maybe: float | None = param(None, "Optional number.")

    def __post_init__(self) -> None:
        if self.mu > 1.0:
            raise ValueError(f"mu must be at most 1, got {self.mu}")


@dataclass(frozen=True)
class Required:
    """A Config with a setting that has no default."""

    needed: int = dataclasses.field(metadata={"doc": "Must be given.", "source": "ours"})
    other: int = param(1, "Has a default.")


def test_empty_mapping_gives_the_defaults():
    assert validate(Settings, {}) == Settings()


def test_values_are_checked_and_kept():
    config = validate(Settings, {"mu": 0.5, "n": 7, "flag": True, "mode": "slow"})
    assert (config.mu, config.n, config.flag, config.mode) == (0.5, 7, True, "slow")


def test_an_int_is_a_fine_float():
    # TOML writes 1.0 as 1 often enough; the value must arrive as a float
    config = validate(Settings, {"mu": 1})
    assert config.mu == 1.0
    assert isinstance(config.mu, float)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("mu", "0.5"),  # no strings for numbers
        ("mu", True),  # no booleans for numbers
        ("n", 2.0),  # no floats for ints, even whole ones
        ("n", True),
        ("n", "3"),
        ("flag", 1),  # no ints for booleans
        ("flag", "true"),
        ("mode", 3),
        ("sizes", [1, "2"]),
        ("sizes", 3),
        ("pair", [1.0]),  # wrong length
        ("pair", [1.0, 2.0, 3.0]),
        ("grid", [[0, 0, 0]]),
        ("maybe", "x"),
    ],
)
def test_types_are_strict(key, value):
    with pytest.raises(ConfigError) as info:
        validate(Settings, {key: value}, path="algorithm[0]")
    message = str(info.value)
    assert message.startswith(f"algorithm[0].{key}"), message
    assert repr(value) in message  # the offending value is shown
    assert "\n" not in message  # one line for the CLI


def test_unknown_key_names_its_path_and_suggests():
    with pytest.raises(ConfigError) as info:
        validate(Settings, {"mu_": 0.2}, path="suite.algorithm[2]")
    assert str(info.value) == "suite.algorithm[2].mu_: unknown setting (did you mean 'mu'?)"


def test_unknown_key_without_a_close_match():
    with pytest.raises(ConfigError, match=r"^zzzzzz: unknown setting$"):
        validate(Settings, {"zzzzzz": 1})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("mu", math.nan),
        ("mu", math.inf),
        ("mu", -math.inf),
        ("pair", [0.0, math.nan]),
        ("maybe", math.inf),
    ],
)
def test_nan_and_infinity_are_refused(key, value):
    with pytest.raises(ConfigError, match=rf"^x\.{key}.*(finite|inf|nan)"):
        validate(Settings, {key: value}, path="x")


def test_lists_become_tuples():
    config = validate(Settings, {"sizes": [4, 5, 6], "pair": [2, 3.5], "grid": [[1, 2], [3, 4]]})
    assert config.sizes == (4, 5, 6)
    assert config.pair == (2.0, 3.5)
    assert config.grid == ((1, 2), (3, 4))
    assert all(isinstance(x, tuple) for x in (config.sizes, config.pair, config.grid[0]))


def test_nested_error_names_the_element():
    with pytest.raises(ConfigError, match=r"^grid\[1\]"):
        validate(Settings, {"grid": [[1, 2], ["a", 4]]})


def test_optional_accepts_none_from_python():
    assert validate(Settings, {"maybe": None}).maybe is None
    assert validate(Settings, {"maybe": 2.5}).maybe == 2.5


def test_required_settings_must_be_given():
    with pytest.raises(ConfigError, match=r"^env\.needed: required setting is missing$"):
        validate(Required, {"other": 2}, path="env")
    assert validate(Required, {"needed": 4}) == Required(needed=4, other=1)


def test_post_init_errors_become_config_errors():
    with pytest.raises(ConfigError) as info:
        validate(Settings, {"mu": 2.0}, path="algorithm[1]")
    assert str(info.value) == "algorithm[1]: mu must be at most 1, got 2.0"
    assert isinstance(info.value, ZobenchError)


def test_post_init_error_without_path_names_the_config():
    with pytest.raises(ConfigError, match=r"^Settings: mu must be at most 1"):
        validate(Settings, {"mu": 2.0})


@pytest.mark.parametrize("values", [[1, 2], "mu=1", 3, None])
def test_a_non_table_is_refused(values):
    with pytest.raises(ConfigError, match=r"^algorithm: expected a table"):
        validate(Settings, values, path="algorithm")


def test_preference_config_defaults_validate():
    assert validate(PreferenceConfig, {"scale": 2}) == PreferenceConfig(scale=2.0)
    assert validate(EmptyConfig, {}) == EmptyConfig()
    with pytest.raises(ConfigError, match="did you mean 'scale'"):
        validate(PreferenceConfig, {"scal": 1.0})


def test_describe_lists_fields_with_doc_type_default_and_source():
    fields = {f.name: f for f in describe(Settings)}
    assert list(fields) == [f.name for f in dataclasses.fields(Settings)]
    assert fields["mu"].doc == "Smoothing radius."
    assert fields["mu"].source == "paper"
    assert fields["mode"].source == "author-code"
    assert fields["n"].source == "ours"
    assert fields["n"].type == "int"
    assert fields["sizes"].default == (1, 2)
    assert describe(Required)[0].default is dataclasses.MISSING


def test_as_dict_round_trips():
    config = Settings(mu=0.3, sizes=(9,))
    assert validate(Settings, as_dict(config)) == config


def test_param_refuses_an_unknown_source():
    with pytest.raises(ValueError, match="source must be one of"):
        param(1, "doc", source="folklore")


# Values a TOML table can hold, and some it cannot: validate must answer with a ConfigError or
# a Config, never any other exception.
TOML_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=5)
    | st.sampled_from([math.nan, math.inf]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=6,
)


@settings(max_examples=150, deadline=None)
@given(
    values=st.dictionaries(
        st.sampled_from([f.name for f in dataclasses.fields(Settings)]) | st.text(max_size=4),
        TOML_VALUES,
        max_size=4,
    )
)
@example(values={"mu": "0.5"})
@example(values={"\n": None})  # a quoted TOML key may hold a newline; the error is still one line
def test_any_table_gives_a_config_or_a_config_error(values):
    try:
        config = validate(Settings, values, path="t")
    except ConfigError as exc:
        message = str(exc)
    else:
        message = None
    if message is not None:
        assert message.startswith("t")
        assert "\n" not in message  # one line for the CLI
        return
    assert isinstance(config, Settings)
    assert all(
        not isinstance(v, float) or math.isfinite(v)
        for v in (config.mu, *config.pair, config.maybe or 0.0)
    )
