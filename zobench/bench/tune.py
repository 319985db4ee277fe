"""``zobench tune``: every algorithm of a suite tuned by one protocol, through the scheduler.

The protocol is the same for every contender (Henderson et al. 2018: unequal tuning effort makes
comparisons meaningless): the same number of trials, the same tuning seeds (disjoint from the
evaluation seeds, and recorded), the same budget (the suite's), and one objective. A *study* is
one algorithm entry (and grid variant) on one instance (environment × preference × topology) of
the suite; its search space is every setting the algorithm declares with ``param(tune=...)``
that the suite does not set itself (a suite's own values are deliberate and win, as they do over
presets). A :class:`~zobench.space.BudgetSplit` setting is tuned whatever the suite writes: it
keeps the suite's votes per iteration and only decides their split.

Trials come from Optuna's ask-and-tell interface with a seeded TPE sampler per study, asked in
rounds of ``batch`` trials; each trial is a set of ordinary runs (one per tuning seed) scheduled
into a normal store, so they run in parallel on any executor, are content-addressed and
survive a kill: tuning again replays the same asks, finds the finished runs, and tells the same
values, so the same suite and protocol always give the same trials and winners.

The objective, ``auc`` by default, is the area under the step curve of the normalized score
against preference queries (against episodes for algorithms that read rewards), divided by the
run's budget: the average normalized score over the budget, so learning fast *and* well wins.
An offline learner, which spends its whole budget before its first policy, would tie at 0 on
every trial; its area is taken against iterations instead.
``final`` is the last evaluation's normalized score. Both are averaged over the tuning seeds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from zobench import api
from zobench.__about__ import __version__
from zobench.bench import scheduler
from zobench.bench.identity import resolve
from zobench.bench.spec import ComponentSpec, RunSpec
from zobench.bench.store import load
from zobench.bench.suite import Suite
from zobench.config import as_dict, validate
from zobench.errors import ZobenchError
from zobench.plugins import PluginHost, get_host
from zobench.presets import Preset, dump_presets
from zobench.space import BudgetSplit, SearchSpace, search_space, to_optuna

Objective = Literal["auc", "final"]
OBJECTIVES: tuple[str, ...] = ("auc", "final")
DEFAULT_TUNING_SEEDS: tuple[int, ...] = (1000, 1001, 1002)
"""Tuning seeds: far from the small seeds suites evaluate on, and recorded with every preset."""


class TuneError(ZobenchError):
    """A tuning request that cannot run (bad protocol, a seed shared with evaluation, no Optuna)."""


@dataclass(frozen=True)
class Protocol:
    """How every algorithm of a suite is tuned: identical for all of them."""

    trials: int = 20
    """Trials per study (each trial runs once per tuning seed)."""
    seeds: tuple[int, ...] = DEFAULT_TUNING_SEEDS
    """Tuning seeds; must not overlap the suite's evaluation seeds."""
    objective: Objective = "auc"
    batch: int = 5
    """Trials asked at once per study before any is told (parallelism across a round); 5, the
    rounds every shipped preset was tuned in (docs/tuning.md)."""
    sampler_seed: int = 0
    """Seed of the TPE samplers (each study derives its own from it and the study's key)."""

    def __post_init__(self) -> None:
        if self.trials < 1 or self.batch < 1 or not self.seeds:
            raise TuneError("tune: trials and batch must be >= 1 and seeds non-empty")
        if self.objective not in OBJECTIVES:
            raise TuneError(f"tune: objective must be one of {', '.join(OBJECTIVES)}")
        if len(set(self.seeds)) != len(self.seeds) or min(self.seeds) < 0:
            raise TuneError("tune: tuning seeds must be distinct non-negative integers")

    def record(self) -> dict[str, Any]:
        """The protocol as stored with every preset it produces."""
        return {
            "trials": self.trials,
            "seeds": list(self.seeds),
            "objective": self.objective,
            "sampler": f"optuna TPE, seed {self.sampler_seed}, rounds of {self.batch}",
        }


@dataclass(frozen=True)
class Study:
    """One algorithm variant on one instance of the suite, and what is tuned about it."""

    key: str
    """Stable identifier: a digest of the variant and the instance."""
    template: RunSpec
    """The suite's run (seed aside) whose algorithm settings the trials complete."""
    space: dict[str, SearchSpace]
    base: dict[str, Any]
    """The algorithm's settings before tuning (suite-written over defaults)."""
    budget_axis: str
    """``queries`` for preference learners, ``episodes`` for algorithms that read rewards."""

    @property
    def label(self) -> str:
        """The algorithm entry's label."""
        return self.template.display_label

    def instance_text(self) -> str:
        """The instance, as a reader would write it."""
        parts = [self.template.environment, self.template.preference, self.template.topology]
        return " / ".join(_component_text(p) for p in parts if p is not None)


@dataclass
class Trial:
    """One trial of a study: its settings, runs and objective."""

    study: Study
    number: int
    params: dict[str, Any]
    run_ids: list[str] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    """The objective on each tuning seed (empty when a run failed)."""

    def specs(self, seeds: Sequence[int]) -> list[RunSpec]:
        """The trial's runs: the study's template with the trial's settings, once per seed."""
        template = self.study.template
        algorithm = ComponentSpec(
            template.algorithm.name, {**template.algorithm.params, **self.params}
        )
        return [replace(template, algorithm=algorithm, seed=s) for s in seeds]

    @property
    def value(self) -> float | None:
        """The objective: the mean over the tuning seeds (``None`` when a run failed)."""
        return float(np.mean(self.values)) if self.values else None


@dataclass
class TuneOutcome:
    """Every trial of every study, the winners and where they were written."""

    out: Path
    protocol: Protocol
    studies: list[Study]
    trials: list[Trial]
    failed_runs: int = 0

    def winners(self) -> dict[str, Trial]:
        """Study key → its best trial (ties: the earliest)."""
        best: dict[str, Trial] = {}
        for trial in self.trials:
            current = best.get(trial.study.key)
            if trial.value is not None and (
                current is None or trial.value > (current.value or -math.inf)
            ):
                best[trial.study.key] = trial
        return best

    def table(self) -> pl.DataFrame:
        """One row per trial: study, label, instance, trial, settings (JSON), objective."""
        return pl.DataFrame(
            {
                "study": [t.study.key for t in self.trials],
                "label": [t.study.label for t in self.trials],
                "instance": [t.study.instance_text() for t in self.trials],
                "trial": [t.number for t in self.trials],
                "settings": [json.dumps(t.params, sort_keys=True) for t in self.trials],
                "objective": [t.value for t in self.trials],
                "per_seed": [json.dumps(t.values) for t in self.trials],
                "run_ids": [json.dumps(t.run_ids) for t in self.trials],
            },
            schema_overrides={"objective": pl.Float64},
        )

    def presets(self, suite_name: str) -> list[Preset]:
        """The winners as presets, with the protocol that found them.

        A preset names the instance it was tuned on in full: every environment and preference
        setting as resolved (defaults included), so it applies to that instance only.
        """
        found = []
        winners = self.winners()
        for study in self.studies:
            winner = winners.get(study.key)
            if winner is None:
                continue
            spec = study.template
            resolved = resolve(spec)
            found.append(
                Preset(
                    algorithm=spec.algorithm.name,
                    environment=spec.environment.name,
                    environment_params=resolved["environment"]["params"],
                    preference=spec.preference.name,
                    preference_params=resolved["preference"]["params"],
                    settings=dict(winner.params),
                    protocol={
                        **self.protocol.record(),
                        "suite": suite_name,
                        "objective_value": round(winner.value or 0.0, 6),
                        "date": dt.date.today().isoformat(),
                        "zobench": __version__,
                    },
                )
            )
        return found


def _component_text(component: ComponentSpec) -> str:
    if not component.params:
        return component.name
    settings = ", ".join(f"{k} = {v!r}" for k, v in sorted(component.params.items()))
    return f"{component.name} ({settings})"


def reads_rewards(algorithm_cls: type) -> bool:
    """True when the algorithm declares it reads rewards (its budget axis is episodes)."""
    return "rewards" in {str(c) for c in getattr(algorithm_cls, "consumes", ())}


def studies(suite: Suite, host: PluginHost | None = None) -> list[Study]:
    """The suite's studies, in the suite's order; algorithms with nothing to tune are left out."""
    host = host or get_host()
    found: dict[str, Study] = {}
    first_seed = suite.seeds[0]
    written_by_label = {e.label or e.name: e for e in suite.entries["algorithm"]}
    for spec in suite.runs(host):
        if spec.seed != first_seed:
            continue
        cls = host.algorithm(spec.algorithm.name)
        entry = written_by_label.get(spec.display_label)
        swept = set(entry.grid) if entry else set()
        written = set(spec.algorithm.params)
        space = {
            name: s
            for name, s in search_space(cls.Config).items()
            if name not in swept and (isinstance(s, BudgetSplit) or name not in written)
        }
        if not space:
            continue
        base = as_dict(validate(cls.Config, spec.algorithm.params, path="algorithm"))
        # trials start from the component defaults: a preset must not leak into its own tuning
        template = replace(spec, seed=0, suite=f"{suite.name}-tune", presets=False)
        key = hashlib.sha256(
            json.dumps(
                template.canonical() | {"label": spec.display_label}, sort_keys=True
            ).encode()
        ).hexdigest()[:12]
        axis = "episodes" if reads_rewards(cls) else "queries"
        found.setdefault(key, Study(key, template, space, base, axis))
    return list(found.values())


def objective_value(curve: pl.DataFrame, axis: str, objective: Objective) -> float:
    """The objective of one run's learning curve (see the module docstring)."""
    column = "score_normalized" if curve["score_normalized"].null_count() == 0 else "score"
    score = curve[column].to_numpy().astype(float)
    if objective == "final":
        return float(score[-1])
    budget = curve[axis].to_numpy().astype(float)
    if len(budget) > 1 and budget[1] >= budget[-1]:
        # an offline learner spends its whole budget before its first policy: every trial ties
        # at 0 on that axis, so its learning is measured against iterations instead
        budget = curve["iteration"].to_numpy().astype(float)
    if budget[-1] <= budget[0]:
        return float(score[-1])
    # a step curve: each evaluation's score holds until the next evaluation's budget
    widths = np.diff(np.append(budget, budget[-1]))
    return float(np.sum(widths * score) / (budget[-1] - budget[0]))


def _key(spec: RunSpec) -> str:
    return json.dumps(spec.canonical(), sort_keys=True)


def _sampler_seed(protocol: Protocol, study: Study) -> int:
    digest = hashlib.sha256(f"{protocol.sampler_seed}:{study.key}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def _completed(study: Study, trial_params: Mapping[str, Any]) -> dict[str, Any]:
    """The trial's settings: sampled values, and each budget split's partner recomputed."""
    params = dict(trial_params)
    for name, space in study.space.items():
        if isinstance(space, BudgetSplit):
            budget = study.base[space.partner] * study.base[name]
            params[space.partner] = max(1, budget // params[name])
    return params


def tune(
    suite: Suite,
    out: str | Path,
    *,
    protocol: Protocol,
    executor: api.Executor,
    host: PluginHost | None = None,
    console: Any = None,
    on_round: Callable[[int, int], None] | None = None,
) -> TuneOutcome:
    """Tune every study of ``suite`` by ``protocol``; trials are runs in the store ``out``."""
    try:
        import optuna
    except ImportError:
        raise TuneError("zobench tune needs Optuna: pip install 'zobench[tune]'") from None
    host = host or get_host()
    shared = set(protocol.seeds) & set(suite.seeds)
    if shared:
        raise TuneError(
            f"tuning seeds {sorted(shared)} are also the suite's evaluation seeds; "
            "tune on other seeds (--seeds)"
        )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    found = studies(suite, host)
    if not found:
        raise TuneError(f"suite '{suite.name}': no algorithm declares a setting to tune")
    samplers = {
        s.key: optuna.create_study(
            direction="maximize",
            sampler=optuna.samplers.TPESampler(seed=_sampler_seed(protocol, s)),
        )
        for s in found
    }
    outcome = TuneOutcome(Path(out), protocol, found, [])
    rounds = math.ceil(protocol.trials / protocol.batch)
    asked_so_far = dict.fromkeys(samplers, 0)  # trial numbers, per study
    for round_index in range(rounds):
        size = min(protocol.batch, protocol.trials - round_index * protocol.batch)
        asked: list[tuple[Any, Trial]] = []
        for study in found:
            distributions = {n: to_optuna(n, s) for n, s in study.space.items()}
            for _ in range(size):
                handle = samplers[study.key].ask(distributions)
                number = asked_so_far[study.key]
                asked_so_far[study.key] += 1
                asked.append((handle, Trial(study, number, _completed(study, handle.params))))
        result = scheduler.schedule_runs(
            [spec for _, trial in asked for spec in trial.specs(protocol.seeds)],
            out,
            executor=executor,
            timeout=suite.settings.timeout,
            console=console,
            host=host,
        )
        outcome.failed_runs += len(result.failed)
        planned = {_key(p.spec): p.run_id for p in result.planned}
        frame = load(out, run_ids=list(planned.values()))
        curves = (
            {rid: part for (rid,), part in frame.partition_by("run_id", as_dict=True).items()}
            if not frame.is_empty()
            else {}
        )
        for handle, trial in asked:
            trial.run_ids = [planned[_key(spec)] for spec in trial.specs(protocol.seeds)]
            if all(i in curves for i in trial.run_ids):
                trial.values = [
                    objective_value(
                        curves[i].sort("iteration"), trial.study.budget_axis, protocol.objective
                    )
                    for i in trial.run_ids
                ]
                samplers[trial.study.key].tell(handle, trial.value)
            else:
                samplers[trial.study.key].tell(handle, state=optuna.trial.TrialState.FAIL)
            outcome.trials.append(trial)
        if on_round is not None:
            on_round(round_index + 1, rounds)
    return outcome


def write_outcome(outcome: TuneOutcome, suite_name: str) -> dict[str, Path]:
    """Write the trials table, the winners as a preset file and a markdown summary into
    ``OUT/tune/``; returns the paths by kind."""
    folder = outcome.out / "tune"
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "trials": folder / "trials.parquet",
        "presets": folder / "presets.toml",
        "summary": folder / "tuning.md",
    }
    outcome.table().write_parquet(paths["trials"])
    paths["presets"].write_text(dump_presets(outcome.presets(suite_name)), encoding="utf-8")
    paths["summary"].write_text(summary_markdown(outcome, suite_name), encoding="utf-8")
    return paths


def summary_markdown(outcome: TuneOutcome, suite_name: str) -> str:
    """The tuning record: protocol, then each study's winner and its objective."""
    p = outcome.protocol
    lines = [
        f"# Tuning of `{suite_name}`",
        "",
        f"Every algorithm was tuned by one protocol: {p.trials} trials per study (Optuna TPE, "
        f"seed {p.sampler_seed}, rounds of {p.batch}), each trial run on tuning seeds "
        f"{', '.join(map(str, p.seeds))}; objective `{p.objective}` "
        + (
            "(area under the normalized-score curve against preference queries — episodes for "
            "reward readers — divided by the budget)."
            if p.objective == "auc"
            else "(final normalized score)."
        ),
        f"zobench {__version__}, {dt.date.today().isoformat()}; failed runs: {outcome.failed_runs}.",
        "",
        "| algorithm | instance | tuned settings | objective | trials |",
        "|---|---|---|---|---|",
    ]
    winners = outcome.winners()
    for study in outcome.studies:
        winner = winners.get(study.key)
        count = len([t for t in outcome.trials if t.study.key == study.key])
        settings = (
            ", ".join(f"{k} = {_short(v)}" for k, v in sorted(winner.params.items()))
            if winner
            else "(every trial failed)"
        )
        value = f"{winner.value:.3f}" if winner and winner.value is not None else "—"
        lines.append(
            f"| {study.label} | {study.instance_text()} | {settings} | {value} | {count} |"
        )
    return "\n".join(lines) + "\n"


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def seeds_list(text: str | None) -> Sequence[int] | None:
    """``--seeds 1000,1001`` as integers (``None`` when not given)."""
    if text is None:
        return None
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise TuneError(f"--seeds: expected comma-separated integers, got {text!r}") from None
