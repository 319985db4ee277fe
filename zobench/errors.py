"""Errors that zobench reports to a user as one clear line (exit code 2), never a traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ZobenchError(Exception):
    """A mistake in the user's input or environment: the CLI prints it as one line, exit code 2."""


class ConfigError(ZobenchError):
    """A configuration value that does not fit its component's Config dataclass."""


class UnknownComponentError(ZobenchError):
    """A component name that no loaded plugin registered."""


class PluginError(ZobenchError):
    """A plugin failed to load or registered something invalid (fatal in strict mode)."""


class HonestyError(ZobenchError):
    """An algorithm tried to see or spend something outside what it declared (a run's failure)."""


class ChannelError(HonestyError):
    """An algorithm used a channel (or a route to one) that it did not declare."""

    def __init__(self, message: str, *, algorithm: str = "", channel: str = "") -> None:
        who = f"algorithm '{algorithm}'" if algorithm else "the algorithm"
        named = (
            f" (channel '{channel}')" if channel and f"channel '{channel}'" not in message else ""
        )
        super().__init__(f"{who} {message}{named}" if channel else message)
        self.algorithm = algorithm
        self.channel = channel


class RewardAccessError(ChannelError):
    """A preference-only algorithm asked for rewards: refused to keep the comparison honest."""


class LedgerError(HonestyError):
    """Someone but the core tried to change the ledger, or a counter would decrease."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or ``""`` when nothing is close.

    Short words share few letters even with their intended spelling (``mew`` for ``mu``), so
    they are held to a lower similarity.
    """
    cutoff = 0.4 if len(word) <= 4 else 0.5
    close = difflib.get_close_matches(word, sorted(set(choices)), n=1, cutoff=cutoff)
    return f" (did you mean '{close[0]}'?)" if close else ""


class UsageError(ZobenchError):
    """Options that do not go together, or do not apply to what was named."""


class PreferenceScaleWarning(UserWarning):
    """The preference model's scale is far below the environment's return differences: votes
    saturate (every evaluator agrees) and carry no information about how much better a
    trajectory is. The message names the setting to change."""
