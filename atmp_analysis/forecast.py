"""Forecast first-in-human, Phase II and approval events from a centre's pipeline.

A seeded, vectorised Monte Carlo model of each project's path through the development
stages, with cited, editable assumptions
(``atmp_analysis/data/reference/forecast_assumptions.yaml``) that a centre's own observed
transitions between survey waves update.

The model
---------
States. The survey's ``stage_code`` (1-11) maps onto eight transient states, ``discovery``
(1-3), ``preclinical`` (4), ``cta_enabling`` (5), ``cta`` (6), ``phase1`` (7-8), ``phase2``
(9), ``phase3`` (10) and ``filing`` (11), and two absorbing ones, ``approved`` and
``stopped``. The mapping lives in the YAML.

Dynamics. Time runs in steps of one year, the survey's rhythm. In each year a project in a
transient state stays, advances one state or stops, with probabilities
``(stay, advance, stop)`` that depend on the state (and, where the YAML gives ``p_rare``,
on whether the target is a rare disease). A project thus advances at most one state a year
(from discovery, first-in-human takes at least four years and approval at least eight),
spends on average ``1 / (1 - stay)`` years in a state, and leaves it with success with
probability ``advance / (advance + stop)``.

Prior. Per state the probabilities are Dirichlet with mean ``(1 - 1/d, p/d, (1 - p)/d)``
and concentration ``strength`` (pseudo project-years), from the YAML's ``years`` (d), ``p``
(times the ``cgt_adjustment`` for clinical states) and ``strength``.

Update. :func:`observed_transitions` finds what each project did between consecutive waves
and :func:`posterior` adds the counts to the prior. Stopping is only observed if a project
missing from the next wave is taken to have stopped (``count_missing_as_stopped=True``). By
default it is not (non-response is not stopping), and then the stays and advances seen
are those of projects that did not stop: they inform the split between staying and
advancing but say nothing about stopping. The posterior is then not a Dirichlet but its
stick-breaking generalisation (Connor-Mosimann): the stop probability is
``Beta(a_stop, a_continue)`` and, among projects that do not stop, the share that advances
is ``Beta(a_advance, a_stay)``, independently. A Dirichlet is the special case
``a_continue = a_stay + a_advance``, which is what one gets when every outcome, stops
included, was observed. Simply adding the stays and advances to a Dirichlet would instead
shrink the stop probability with every wave, and overstate the forecast.

Forecast. :func:`simulate` draws, for each simulation, the per-state probabilities from the
posterior (parameter uncertainty), then steps every project year by year, vectorised over
simulations x projects (``int8`` states, ``float32`` uniforms drawn per year, in blocks of
:data:`BLOCK` simulations that stay in the processor's cache), and counts the events of
each simulated year, in total and per group (ATMP class, platform). :meth:`Forecast.summary`
gives the mean and an interval (the 10th and 90th percentiles by default) per year and
cumulated. The same seed gives the same numbers.

Approximations, stated where they are made: a project seen to advance more than one state
between two waves counts as one advance of the state it was in; one seen at an earlier
stage counts as staying; stage 11 is "applied for or granted", so approval is never
observed (an approved project keeps answering 11 and counts as staying in ``filing``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from atmp_analysis.config import REFERENCE_DIR
from atmp_analysis.errors import SurveyError
from atmp_analysis.summary import NOT_ANSWERED

__all__ = [
    "ABSORBING",
    "ALL_STATES",
    "EVENTS",
    "STATES",
    "Assumptions",
    "AssumptionsError",
    "CgtAdjustment",
    "Forecast",
    "Realisation",
    "StateAssumption",
    "assumptions_from_dict",
    "draw_probabilities",
    "implied_likelihood_of_approval",
    "likelihood_of_approval_check",
    "load_assumptions",
    "observed_transitions",
    "posterior",
    "sensitivity",
    "simulate",
    "simulate_truth",
]

#: The shipped assumptions.
ASSUMPTIONS_FILE = REFERENCE_DIR / "forecast_assumptions.yaml"
FORMAT_VERSION = 1

#: Transient states, in the order projects move through them.
STATES = (
    "discovery",
    "preclinical",
    "cta_enabling",
    "cta",
    "phase1",
    "phase2",
    "phase3",
    "filing",
)
#: Absorbing states: success out of ``filing``, and stopping from any state.
ABSORBING = ("approved", "stopped")
ALL_STATES = STATES + ABSORBING
#: Outcomes of a year in a state, in the order of the probability arrays.
OUTCOMES = ("stay", "advance", "stop")
#: The parts of a posterior array: Dirichlet-style alphas of the outcomes, and the second
#: parameter of the stop probability's Beta (see the module docstring).
POSTERIOR_PARTS = ("stay", "advance", "stop", "continue")
#: Events counted, each as an advance out of a state.
EVENTS = ("fih", "phase2", "approval")
EVENT_FROM = {"fih": "cta", "phase2": "phase1", "approval": "filing"}
EVENT_LABELS = {"fih": "first-in-human", "phase2": "Phase II start", "approval": "approval"}
#: States whose p the sensitivity varies, and the factors it uses.
P_FACTORS = (0.5, 1.5)
YEARS_FACTORS = (0.5, 2.0)
P_CLIP = (0.01, 0.99)

#: Simulations processed together: the working arrays of a block of 256 simulations of a
#: thousand projects (a few MB) stay in the processor's cache, which makes a year's step
#: about twice as fast as one pass over all simulations.
BLOCK = 256

# Internal codes: state index + 10 for a rare-disease project, so one int8 indexes a
# per-simulation table of 20 thresholds. The absorbing states have zero thresholds in
# both halves, so a stopped project can take the code 9 whatever its group.
_N_STATES = len(ALL_STATES)
_N_CODES = 2 * _N_STATES
_APPROVED = ALL_STATES.index("approved")
_STOPPED = ALL_STATES.index("stopped")
_K = len(STATES)
_EVENT_OF_CODE = np.zeros(_N_CODES, dtype=np.int8)  # 0: none, i + 1: EVENTS[i]
for _i, _event in enumerate(EVENTS):
    _EVENT_OF_CODE[STATES.index(EVENT_FROM[_event])] = _i + 1
    _EVENT_OF_CODE[_N_STATES + STATES.index(EVENT_FROM[_event])] = _i + 1

_TOP_KEYS = {
    "forecast",
    "horizon_years",
    "interval",
    "simulations",
    "seed",
    "cgt_adjustment",
    "states",
    "check",
}
_STATE_KEYS = {"stage_codes", "years", "p", "p_rare", "strength", "elicited", "source"}
_STAGE_CODES = range(1, 12)


class AssumptionsError(SurveyError, ValueError):
    """A forecast assumptions file with a bad value; the message names the file and key."""


# --------------------------------------------------------------------------- assumptions


@dataclass(frozen=True)
class StateAssumption:
    """The prior of one transient state, as the YAML states it.

    ``p`` and ``p_rare`` are the cited figures; the forecast uses them times the
    ``cgt_adjustment`` where it applies (:meth:`Assumptions.p_effective`).
    """

    name: str
    stage_codes: tuple[int, ...]
    years: float
    p: float
    strength: float
    source: str
    elicited: bool
    p_rare: float | None = None


@dataclass(frozen=True)
class CgtAdjustment:
    """Factors on the clinical p's for cell and gene therapies (see the YAML)."""

    factor: float
    factor_rare: float
    states: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class Assumptions:
    """The forecast's assumptions: per-state priors, defaults and published checks.

    Read them with :func:`load_assumptions`; change one with :func:`dataclasses.replace`.
    """

    states: tuple[StateAssumption, ...]
    horizon_years: int
    interval: float
    simulations: int
    seed: int
    cgt_adjustment: CgtAdjustment | None
    check: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    source: str = "forecast assumptions"

    def state(self, name: str) -> StateAssumption:
        """The assumption of state ``name``."""
        return self.states[STATES.index(name)]

    def stage_to_state(self) -> dict[int, str]:
        """Stage code (1-11) -> state name.

        >>> load_assumptions().stage_to_state()[8]
        'phase1'
        """
        return {code: s.name for s in self.states for code in s.stage_codes}

    def p_effective(self, name: str, *, rare: bool = False) -> float:
        """The probability of success the forecast uses for state ``name``.

        ``p_rare`` for a rare-disease project where the state has one, else ``p``; times
        the ``cgt_adjustment`` factor when the state is one it applies to.

        >>> round(load_assumptions().p_effective("phase1"), 4)
        0.5445
        """
        state = self.state(name)
        use_rare = rare and state.p_rare is not None
        p = state.p_rare if use_rare else state.p
        adj = self.cgt_adjustment
        if adj is not None and name in adj.states:
            p *= adj.factor_rare if use_rare else adj.factor
        return float(p)

    def table(self) -> pd.DataFrame:
        """One row per state: stage codes, years, p's as cited and as used, strength, source."""
        return pd.DataFrame(
            {
                "state": list(STATES),
                "stage_codes": [", ".join(map(str, s.stage_codes)) for s in self.states],
                "years": [s.years for s in self.states],
                "p": [s.p for s in self.states],
                "p_rare": [s.p_rare for s in self.states],
                "p_used": [self.p_effective(n) for n in STATES],
                "p_rare_used": [self.p_effective(n, rare=True) for n in STATES],
                "strength": [s.strength for s in self.states],
                "elicited": [s.elicited for s in self.states],
                "source": [s.source for s in self.states],
            }
        )


def load_assumptions(path: str | Path | None = None) -> Assumptions:
    """Read and check forecast assumptions.

    Parameters
    ----------
    path
        A YAML file in the format of the shipped one (default:
        ``atmp_analysis/data/reference/forecast_assumptions.yaml``).

    Returns
    -------
    Assumptions

    Raises
    ------
    AssumptionsError
        A ``ValueError`` naming the file and the key, for a missing or unreadable file, a
        p outside 0..1, years below 1, a strength that is not positive, an unknown or
        missing state, or a stage code in two states or in none.

    Examples
    --------
    >>> a = load_assumptions()
    >>> a.horizon_years, a.interval, a.state("phase2").years
    (5, 0.8, 3.6)
    """
    from atmp_analysis.errors import read_yaml

    path = Path(path) if path is not None else ASSUMPTIONS_FILE
    data = read_yaml(path, "forecast assumptions file", AssumptionsError)
    return assumptions_from_dict(data, source=str(path))


def assumptions_from_dict(data: Any, *, source: str = "forecast assumptions") -> Assumptions:
    """Check and build :class:`Assumptions` from parsed YAML (see :func:`load_assumptions`)."""

    def fail(key: str, message: str) -> AssumptionsError:
        return AssumptionsError(f"{source}: {key}: {message}")

    def number(value: Any, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise fail(key, f"expected a number, not {value!r}")
        return float(value)

    def integer(value: Any, key: str, minimum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise fail(key, f"expected a whole number of at least {minimum}, not {value!r}")
        return value

    def probability(value: Any, key: str) -> float:
        p = number(value, key)
        if not 0 <= p <= 1:
            raise fail(key, f"a probability must be between 0 and 1, not {value!r}")
        return p

    if not isinstance(data, dict) or "states" not in data:
        raise AssumptionsError(
            f"{source}: not forecast assumptions: expected a mapping with 'forecast: 1' "
            "and 'states:'"
        )
    version = data.get("forecast")
    if version != FORMAT_VERSION:
        raise fail("forecast", f"format {version!r} is not known; this package reads 1")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise fail(", ".join(sorted(map(str, unknown))), "unknown key")
    for key in ("horizon_years", "interval", "simulations", "seed"):
        if key not in data:
            raise fail(key, "missing")
    horizon = integer(data["horizon_years"], "horizon_years", 1)
    interval = number(data["interval"], "interval")
    if not 0 < interval < 1:
        raise fail("interval", f"must be between 0 and 1 (e.g. 0.8), not {interval!r}")
    simulations = integer(data["simulations"], "simulations", 1)
    seed = integer(data["seed"], "seed", 0)

    entries = data["states"]
    if not isinstance(entries, dict):
        raise fail("states", "expected a mapping of state names")
    for name in entries:
        if name not in STATES:
            raise fail(f"states.{name}", f"unknown state; the states are {', '.join(STATES)}")
    missing = [name for name in STATES if name not in entries]
    if missing:
        raise fail(f"states.{missing[0]}", "missing")
    if list(entries) != list(STATES):
        raise fail("states", f"list the states in the order {', '.join(STATES)}")
    states = []
    owner: dict[int, str] = {}
    for name in STATES:
        entry = entries[name]
        key = f"states.{name}"
        if not isinstance(entry, dict):
            raise fail(key, "expected stage_codes, years, p, strength, source")
        extra = set(entry) - _STATE_KEYS
        if extra:
            raise fail(f"{key}.{sorted(map(str, extra))[0]}", "unknown key")
        for needed in ("stage_codes", "years", "p", "strength", "source"):
            if needed not in entry:
                raise fail(f"{key}.{needed}", "missing")
        codes = entry["stage_codes"]
        if not isinstance(codes, list) or not codes:
            raise fail(f"{key}.stage_codes", f"expected a list of stage codes, not {codes!r}")
        for code in codes:
            if isinstance(code, bool) or not isinstance(code, int) or code not in _STAGE_CODES:
                raise fail(f"{key}.stage_codes", f"{code!r} is not a stage code (1-11)")
            if code in owner:
                raise fail(
                    f"{key}.stage_codes", f"stage code {code} is already in state {owner[code]}"
                )
            owner[code] = name
        years = number(entry["years"], f"{key}.years")
        if years < 1:
            raise fail(
                f"{key}.years",
                f"must be at least 1 (steps are yearly), not {entry['years']!r}",
            )
        p = probability(entry["p"], f"{key}.p")
        p_rare = entry.get("p_rare")
        if p_rare is not None:
            p_rare = probability(p_rare, f"{key}.p_rare")
        strength = number(entry["strength"], f"{key}.strength")
        if strength <= 0:
            raise fail(f"{key}.strength", f"must be positive, not {entry['strength']!r}")
        elicited = entry.get("elicited", False)
        if not isinstance(elicited, bool):
            raise fail(f"{key}.elicited", f"expected true or false, not {elicited!r}")
        text = entry["source"]
        if not isinstance(text, str) or not text.strip():
            raise fail(f"{key}.source", "cite where the values come from")
        states.append(
            StateAssumption(
                name=name,
                stage_codes=tuple(codes),
                years=years,
                p=p,
                strength=strength,
                source=" ".join(text.split()),
                elicited=elicited,
                p_rare=p_rare,
            )
        )
    unmapped = [code for code in _STAGE_CODES if code not in owner]
    if unmapped:
        raise fail("states", f"stage code {unmapped[0]} is in no state")

    adjustment = None
    adj = data.get("cgt_adjustment")
    if adj is not None:
        if not isinstance(adj, dict):
            raise fail("cgt_adjustment", "expected factor, factor_rare, states, source")
        extra = set(adj) - {"factor", "factor_rare", "states", "source"}
        if extra:
            raise fail(f"cgt_adjustment.{sorted(map(str, extra))[0]}", "unknown key")
        factor = number(adj.get("factor"), "cgt_adjustment.factor")
        factor_rare = number(adj.get("factor_rare", factor), "cgt_adjustment.factor_rare")
        for key, value in (("factor", factor), ("factor_rare", factor_rare)):
            if value <= 0:
                raise fail(f"cgt_adjustment.{key}", f"must be positive, not {value!r}")
        applies = adj.get("states") or []
        if not isinstance(applies, list):
            raise fail("cgt_adjustment.states", "expected a list of states")
        for name in applies:
            if name not in STATES:
                raise fail("cgt_adjustment.states", f"unknown state {name!r}")
            for s in states:
                if s.name != name:
                    continue
                for attr, f in (("p", factor), ("p_rare", factor_rare)):
                    value = getattr(s, attr)
                    if value is not None and value * f > 1:
                        raise fail(
                            f"cgt_adjustment.{'factor' if attr == 'p' else 'factor_rare'}",
                            f"makes states.{name}.{attr} {value * f:.3g}, above 1",
                        )
        adjustment = CgtAdjustment(
            factor=factor,
            factor_rare=factor_rare,
            states=tuple(applies),
            source=" ".join(str(adj.get("source", "")).split()),
        )

    check = data.get("check") or {}
    if not isinstance(check, dict):
        raise fail("check", "expected a mapping")
    loa = check.get("likelihood_of_approval_from_phase1")
    if loa is not None:
        if not isinstance(loa, dict):
            raise fail("check.likelihood_of_approval_from_phase1", "expected a mapping")
        for key, value in loa.items():
            if key != "source":
                probability(value, f"check.likelihood_of_approval_from_phase1.{key}")
    return Assumptions(
        states=tuple(states),
        horizon_years=horizon,
        interval=interval,
        simulations=simulations,
        seed=seed,
        cgt_adjustment=adjustment,
        check=MappingProxyType(check),
        source=source,
    )


# --------------------------------------------------------------------------- published checks


def implied_likelihood_of_approval(assumptions: Assumptions, *, rare: bool = False) -> float:
    """The model's likelihood of approval from Phase I: the product of the clinical p's.

    In the model a project leaves each state with success with probability p, whatever
    the time it spends there, so the chance that a project entering Phase I is approved
    is the product of the p's of ``phase1``, ``phase2``, ``phase3`` and ``filing`` (as
    used, i.e. with the ``cgt_adjustment``). This is also the prior mean, as the p's of
    the states are independent.

    Examples
    --------
    >>> a = load_assumptions()
    >>> round(implied_likelihood_of_approval(a), 3), round(
    ...     implied_likelihood_of_approval(a, rare=True), 3
    ... )
    (0.053, 0.094)
    """
    clinical = STATES[STATES.index("phase1") :]
    return float(np.prod([assumptions.p_effective(s, rare=rare) for s in clinical]))


def likelihood_of_approval_check(assumptions: Assumptions) -> pd.DataFrame:
    """The model's implied figures next to the published ones in the YAML's ``check``.

    Returns
    -------
    pandas.DataFrame
        ``measure``, ``model``, ``published``, ``difference``, ``tolerance``, ``within``
        (``<NA>`` where the model has no counterpart) and ``source``.
    """
    rows = []
    loa = dict(assumptions.check.get("likelihood_of_approval_from_phase1") or {})
    tolerance = loa.pop("tolerance", None)
    source = " ".join(str(loa.pop("source", "")).split())
    model = {
        "overall": implied_likelihood_of_approval(assumptions),
        "orphan": implied_likelihood_of_approval(assumptions, rare=True),
    }
    labels = {
        "overall": "LOA from Phase I, other projects vs all CGT",
        "orphan": "LOA from Phase I, rare-disease projects vs orphan CGT",
    }
    for key, published in loa.items():
        rows.append(
            {
                "measure": labels.get(key, f"LOA from Phase I ({key}; no model counterpart)"),
                "model": model.get(key, np.nan),
                "published": float(published),
                "tolerance": tolerance if key in model else np.nan,
                "source": source,
            }
        )
    years = dict(assumptions.check.get("years_from_first_in_human_to_market") or {})
    years_source = " ".join(str(years.pop("source", "")).split())
    clinical = STATES[STATES.index("phase1") :]
    in_clinic = float(sum(assumptions.state(s).years for s in clinical))
    for key, published in years.items():
        rows.append(
            {
                "measure": f"mean years from first-in-human to market ({key})",
                "model": in_clinic,
                "published": float(published),
                "tolerance": np.nan,
                "source": years_source,
            }
        )
    frame = pd.DataFrame(rows, columns=["measure", "model", "published", "tolerance", "source"])
    frame["difference"] = frame["model"] - frame["published"]
    within = frame["difference"].abs() <= frame["tolerance"]
    frame["within"] = within.astype("boolean").mask(frame["tolerance"].isna())
    return frame[["measure", "model", "published", "difference", "tolerance", "within", "source"]]


# --------------------------------------------------------------------------- priors


@dataclass(frozen=True)
class _Prior:
    """Arrays of the prior: years and strength per state, p per group (0 other, 1 rare)."""

    years: np.ndarray  # (K,)
    p: np.ndarray  # (2, K)
    strength: np.ndarray  # (K,)
    shared: np.ndarray  # (K,) bool: one parameter for both groups (no p_rare)

    @classmethod
    def of(cls, assumptions: Assumptions) -> _Prior:
        return cls(
            years=np.array([s.years for s in assumptions.states]),
            p=np.array(
                [[assumptions.p_effective(n, rare=rare) for n in STATES] for rare in (False, True)]
            ),
            strength=np.array([s.strength for s in assumptions.states]),
            shared=np.array([s.p_rare is None for s in assumptions.states]),
        )

    def alphas(self) -> np.ndarray:
        """Prior alphas (2, K, 4): stay, advance, stop, continue (= stay + advance)."""
        leave = self.strength / self.years  # (K,)
        stay = self.strength - leave
        advance = leave * self.p  # (2, K)
        stop = leave * (1 - self.p)
        stay = np.broadcast_to(stay, advance.shape)
        return np.stack([stay, advance, stop, stay + advance], axis=-1)


def _counts(transitions: pd.DataFrame | None, shared: np.ndarray) -> np.ndarray:
    """Observed counts (2, K, 4) of stay, advance, stop and continue-with-stops-observed."""
    counts = np.zeros((2, _K, len(POSTERIOR_PARTS)))
    if transitions is None or len(transitions) == 0:
        return counts
    needed = {"state_from", "rare", "counted_as", "stops_observed"}
    if not needed <= set(transitions.columns):
        raise ValueError(
            "transitions: expected the table of observed_transitions() with columns "
            f"{', '.join(sorted(needed))}"
        )
    t = transitions[transitions["counted_as"].notna()]
    states = t["state_from"].astype("string")
    unknown = sorted(set(states.dropna()) - set(STATES))
    if unknown:
        raise ValueError(f"transitions: unknown state {unknown[0]!r} in state_from")
    k = states.map({s: i for i, s in enumerate(STATES)}).to_numpy(dtype=np.intp)
    g = t["rare"].fillna(False).to_numpy(dtype=bool).astype(np.intp)
    part = t["counted_as"].astype("string")
    outcome = part.map({"stay": 0, "advance": 1, "stop": 2, "continue": -1}).to_numpy(dtype=np.intp)
    known = t["stops_observed"].fillna(False).to_numpy(dtype=bool)
    is_outcome = outcome >= 0
    np.add.at(counts, (g[is_outcome], k[is_outcome], outcome[is_outcome]), 1)
    went_on = known & part.isin(["stay", "advance", "continue"]).to_numpy(dtype=bool)
    np.add.at(counts, (g[went_on], k[went_on], 3), 1)
    pooled = counts.sum(axis=0)
    counts[:, shared] = pooled[shared]
    return counts


def posterior(
    assumptions: Assumptions,
    transitions: pd.DataFrame | None = None,
    *,
    rare: bool = False,
) -> dict[str, np.ndarray]:
    """Per state, the prior's alphas plus the observed counts.

    Parameters
    ----------
    assumptions
        The prior (:func:`load_assumptions`).
    transitions
        :func:`observed_transitions`, or ``None`` for the prior alone.
    rare
        The parameters of rare-disease projects (they differ in states with ``p_rare``;
        those states count only the transitions of projects of the same kind, the others
        count everyone's).

    Returns
    -------
    dict
        State name -> array of :data:`POSTERIOR_PARTS` ``(stay, advance, stop,
        continue)``: the first three are the Dirichlet alphas of the outcomes, prior plus
        counts; ``continue`` is the second parameter of the stop probability's
        ``Beta(stop, continue)``: the prior's stay + advance plus the stays and advances
        seen where stopping too was observable. When every outcome was observed
        (``count_missing_as_stopped=True``) ``continue = stay + advance`` and the
        posterior is the Dirichlet of the first three; otherwise see the module docstring.

    Examples
    --------
    >>> a = load_assumptions()
    >>> posterior(a)["discovery"].round(3)
    array([2. , 0.5, 0.5, 2.5])
    """
    prior = _Prior.of(assumptions)
    alphas = prior.alphas() + _counts(transitions, prior.shared)
    group = 1 if rare else 0
    return {name: alphas[group, k].copy() for k, name in enumerate(STATES)}


def _draw(
    alphas: np.ndarray, shared: np.ndarray, simulations: int, seed_seq: np.random.SeedSequence
) -> np.ndarray:
    """Probabilities (S, 2, K, 3) of stay, advance, stop, drawn from the posterior alphas.

    Stick-breaking: stop ~ Beta(a_stop, a_continue) and, among those that go on, the
    advancing share ~ Beta(a_advance, a_stay), each a ratio of gamma variates. Each state
    and group has its own random stream, so changing one state's alphas (the sensitivity)
    leaves every other state's draws as they were. Shared states draw once for both groups.
    """
    streams = seed_seq.spawn(2 * _K)
    out = np.empty((simulations, 2, _K, 3))
    for group in (0, 1):
        for k in range(_K):  # a loop over states; each draws all simulations at once
            if group == 1 and shared[k]:
                out[:, 1, k] = out[:, 0, k]
                continue
            a = alphas[group, k]
            rng = np.random.default_rng(streams[group * _K + k])
            gam = rng.standard_gamma(a, size=(simulations, 4))
            stop = _ratio(gam[:, 2], gam[:, 2] + gam[:, 3], a[2], a[2] + a[3])
            share = _ratio(gam[:, 1], gam[:, 0] + gam[:, 1], a[1], a[0] + a[1])
            out[:, group, k, 0] = (1 - stop) * (1 - share)
            out[:, group, k, 1] = (1 - stop) * share
            out[:, group, k, 2] = stop
    return out


def _ratio(num: np.ndarray, den: np.ndarray, a_num: float, a_den: float) -> np.ndarray:
    """``num / den``; where both underflowed to zero (tiny shapes), the mean of the Beta."""
    fallback = a_num / a_den if a_den > 0 else 0.0
    return np.divide(num, den, out=np.full_like(num, fallback), where=den > 0)


def draw_probabilities(
    assumptions: Assumptions,
    *,
    transitions: pd.DataFrame | None = None,
    simulations: int = 1,
    seed: int | None = None,
) -> np.ndarray:
    """Draw per-state probabilities from the prior (or the posterior given ``transitions``).

    Returns
    -------
    numpy.ndarray
        Shape ``(simulations, 2, len(STATES), 3)``: per simulation, for other projects
        (0) and rare-disease projects (1), per state, the probabilities of
        :data:`OUTCOMES` (stay, advance, stop). These are the parameters :func:`simulate`
        draws for its simulations with the same seed; one draw is a "true" world for
        :func:`simulate_truth`.

    Examples
    --------
    >>> probs = draw_probabilities(load_assumptions(), simulations=3, seed=1)
    >>> probs.shape, bool(np.allclose(probs.sum(axis=-1), 1))
    ((3, 2, 8, 3), True)
    """
    seed = assumptions.seed if seed is None else seed
    prior = _Prior.of(assumptions)
    alphas = prior.alphas() + _counts(transitions, prior.shared)
    param_seq, _ = np.random.SeedSequence(seed).spawn(2)
    return _draw(alphas, prior.shared, simulations, param_seq)


# --------------------------------------------------------------------------- observed transitions


def _rare_flags(values: pd.Series | None, n: int) -> np.ndarray:
    """True for a rare-disease answer (``yes``, ``True``, 1); missing or anything else: False."""
    if values is None:
        return np.zeros(n, dtype=bool)
    text = values.astype("string").str.strip().str.lower()
    return text.isin(["yes", "true", "1", "ja"]).fillna(False).to_numpy(dtype=bool)


def _stage_lookup(assumptions: Assumptions) -> np.ndarray:
    """Array over stage codes 0..11 -> state index (-1 for none)."""
    lookup = np.full(12, -1, dtype=np.int8)
    for k, state in enumerate(assumptions.states):
        lookup[list(state.stage_codes)] = k
    return lookup


def _states_of(stage: pd.Series, lookup: np.ndarray, what: str) -> np.ndarray:
    """State index per stage code (-1 where the stage is missing)."""
    codes = pd.Series(pd.array(stage, dtype="Int64"))
    filled = codes.fillna(0).to_numpy(dtype=np.int64)
    bad = codes.notna().to_numpy(dtype=bool) & ((filled < 1) | (filled > 11))
    if bad.any():
        raise ValueError(f"{what}: stage_code {filled[bad][0]} is not a stage code (1-11)")
    return np.where(filled > 0, lookup[np.clip(filled, 0, 11)], -1)


def observed_transitions(
    projects: pd.DataFrame,
    assumptions: Assumptions | None = None,
    *,
    count_missing_as_stopped: bool = False,
) -> pd.DataFrame:
    """What each project did between consecutive survey waves.

    Parameters
    ----------
    projects
        One row per project and wave: ``project_id``, ``wave`` (the survey year),
        ``stage_code`` (1-11, may be missing) and optionally ``rare_disease`` (``yes``,
        ``no``), as in ``projects.csv``.
    assumptions
        For the mapping of stage codes onto states (default: the shipped assumptions).
    count_missing_as_stopped
        Count a project that is missing from the next wave as stopped. Off by default:
        the survey does not ask whether a project stopped, and a project can be missing
        because nobody answered for it, so a missing project is ``missing``, counted
        nowhere; stopping is then learnt from the prior alone (:func:`posterior`).

    Returns
    -------
    pandas.DataFrame
        One row per project seen in wave ``w`` when the survey ran in ``w + 1`` (steps are
        one year: waves further apart give no rows): ``project_id``, ``wave``,
        ``wave_next``, ``rare``, ``stage_from``, ``stage_to``, ``state_from``,
        ``state_to``, ``outcome`` and ``counted_as`` (what :func:`posterior` counts for
        ``state_from``), ``stops_observed``. ``outcome`` is

        - ``stay``: the same state (a change of stage within a state, 1 to 3 say, too);
        - ``advance``: a later state. Counted as one advance of ``state_from`` even when
          the project moved more than one state in the year (an approximation: the
          states it passed through are not credited);
        - ``back``: an earlier state (a project that re-did a step, or answered
          differently); counted as ``stay``;
        - ``missing``: not in wave ``w + 1``; counted as ``stop`` only with
          ``count_missing_as_stopped``;
        - ``unknown``: a stage is missing; counted as ``continue`` (not stopped) when
          stops are observed and the earlier stage is known, otherwise nowhere.

    Examples
    --------
    >>> table = pd.DataFrame(
    ...     {
    ...         "project_id": ["a", "b", "c", "d", "a", "b", "c"],
    ...         "wave": [2023, 2023, 2023, 2023, 2024, 2024, 2024],
    ...         "stage_code": pd.array([2, 4, 7, 5, 3, 5, 6], dtype="Int64"),
    ...     }
    ... )
    >>> observed_transitions(table)[["project_id", "state_from", "state_to", "outcome"]]
      project_id    state_from      state_to  outcome
    0          a     discovery     discovery     stay
    1          b   preclinical  cta_enabling  advance
    2          c        phase1           cta     back
    3          d  cta_enabling          <NA>  missing
    """
    assumptions = assumptions or load_assumptions()
    missing_cols = [c for c in ("project_id", "wave", "stage_code") if c not in projects]
    if missing_cols:
        raise ValueError(f"projects: missing column {missing_cols[0]!r}")
    frame = pd.DataFrame(
        {
            "project_id": projects["project_id"].astype("string").to_numpy(),
            "wave": pd.to_numeric(projects["wave"]).astype("int64").to_numpy(),
            "stage": pd.array(projects["stage_code"], dtype="Int64"),
            "rare": _rare_flags(projects.get("rare_disease"), len(projects)),
        }
    )
    duplicated = frame.duplicated(["project_id", "wave"])
    if duplicated.any():
        row = frame[duplicated].iloc[0]
        raise ValueError(
            f"projects: project {row['project_id']} appears twice in wave {row['wave']}"
        )
    lookup = _stage_lookup(assumptions)
    frame["state"] = _states_of(frame["stage"], lookup, "projects")
    waves = set(frame["wave"])
    before = frame[frame["wave"].add(1).isin(waves)].assign(wave_next=lambda f: f["wave"] + 1)
    after = frame[["project_id", "wave", "stage", "state"]].rename(
        columns={"wave": "wave_next", "stage": "stage_to", "state": "to"}
    )
    pairs = before.merge(after, on=["project_id", "wave_next"], how="left", indicator=True)
    present = (pairs["_merge"] == "both").to_numpy()
    k_from = pairs["state"].to_numpy()
    k_to = pairs["to"].fillna(-1).to_numpy(dtype=np.int64)
    known = (k_from >= 0) & (k_to >= 0) & present
    outcome = np.select(
        [~present, ~known, k_to > k_from, k_to < k_from],
        ["missing", "unknown", "advance", "back"],
        "stay",
    )
    counted = np.select(
        [
            outcome == "stay",
            outcome == "back",
            outcome == "advance",
            (outcome == "missing") & (k_from >= 0) & count_missing_as_stopped,
            (outcome == "unknown") & (k_from >= 0) & count_missing_as_stopped,
        ],
        ["stay", "stay", "advance", "stop", "continue"],
        "",
    )
    counted = pd.Series(counted, dtype="string")
    counted = counted.mask(counted == "")
    names = np.array([*STATES, None], dtype=object)  # index -1: no state
    result = pd.DataFrame(
        {
            "project_id": pairs["project_id"],
            "wave": pairs["wave"].astype("int64"),
            "wave_next": pairs["wave_next"].astype("int64"),
            "rare": pairs["rare"].astype(bool),
            "stage_from": pairs["stage"].astype("Int64"),
            "stage_to": pairs["stage_to"].astype("Int64"),
            "state_from": pd.array(names[k_from], dtype="string"),
            "state_to": pd.array(names[k_to], dtype="string"),
            "outcome": pd.array(outcome, dtype="string"),
            "counted_as": counted.array,
            "stops_observed": count_missing_as_stopped,
        }
    )
    return result.sort_values(["wave", "project_id"], kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- simulation kernel


@dataclass(frozen=True)
class _Membership:
    """Projects' groups for one grouping column, as CSR: project i is in
    ``groups[ptr[i]:ptr[i + 1]]``."""

    name: str
    labels: tuple[str, ...]
    ptr: np.ndarray
    groups: np.ndarray

    @classmethod
    def of(cls, name: str, values: pd.Series, *, multi: bool) -> _Membership:
        """Groups of each project from a column; ``multi``: ``;``-joined values."""
        text = values.astype("string").reset_index(drop=True)
        if multi:
            text = text.str.split(";").explode()  # the index keeps the project's position
        text = text.astype("string").str.strip().replace("", pd.NA).dropna()
        frame = pd.DataFrame({"project": text.index.to_numpy(dtype=np.intp), "label": text})
        unlabelled = np.setdiff1d(np.arange(len(values)), frame["project"].to_numpy())
        frame = pd.concat(
            [frame, pd.DataFrame({"project": unlabelled, "label": NOT_ANSWERED})],
            ignore_index=True,
        ).drop_duplicates()
        labels = tuple(sorted(frame["label"].unique()))
        code = pd.Categorical(frame["label"], categories=labels).codes.astype(np.intp)
        project = frame["project"].to_numpy(dtype=np.intp)
        order = np.lexsort((code, project))
        counts = np.bincount(project, minlength=len(values))
        ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.intp)
        return cls(name=name, labels=labels, ptr=ptr, groups=code[order])

    def expand(self, projects: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For events of ``projects``: (index of the event, group) once per group."""
        start = self.ptr[projects]
        n = self.ptr[projects + 1] - start
        event = np.repeat(np.arange(len(projects)), n)
        first = np.repeat(np.cumsum(n) - n, n)
        within = np.arange(event.size) - first
        return event, self.groups[np.repeat(start, n) + within]


def _thresholds(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per simulation and code (S, 20): P(advance) and P(advance or stop), float32."""
    s = probabilities.shape[0]
    adv = np.zeros((s, _N_CODES), dtype=np.float32)
    cum = np.zeros((s, _N_CODES), dtype=np.float32)
    for group in (0, 1):
        cols = slice(group * _N_STATES, group * _N_STATES + _K)
        adv[:, cols] = probabilities[:, group, :, 1]
        cum[:, cols] = probabilities[:, group, :, 1] + probabilities[:, group, :, 2]
    return adv, cum


def _run(
    codes: np.ndarray,
    adv: np.ndarray,
    cum: np.ndarray,
    years: int,
    seed_seq: np.random.SeedSequence,
    memberships: tuple[_Membership, ...] = (),
    record: bool = False,
) -> tuple[np.ndarray, list[np.ndarray], np.ndarray | None]:
    """Step every project of every simulation ``years`` times.

    ``codes`` (P,) int8 are the projects' start codes; ``adv`` and ``cum`` (S, 20) the
    thresholds. A year draws one uniform u per simulation and project: u < P(advance)
    advances, u < P(advance or stop) otherwise stops, else the project stays.

    Returns event counts (3, S, years), per grouping (3, S, years, G), and with ``record``
    the codes after each year (years, S, P).
    """
    n_sims = adv.shape[0]
    n_proj = codes.size
    n_ev = len(EVENTS)
    totals = np.zeros((n_ev, n_sims, years), dtype=np.int32)
    grouped = [np.zeros((n_ev, n_sims, years, len(m.labels)), dtype=np.int32) for m in memberships]
    states = np.empty((years, n_sims, n_proj), dtype=np.int8) if record else None
    starts = range(0, n_sims, BLOCK)
    streams = seed_seq.spawn(len(starts))
    for lo, stream in zip(starts, streams, strict=True):
        hi = min(n_sims, lo + BLOCK)
        n = hi - lo
        rng = np.random.default_rng(stream)
        code = np.repeat(codes[None, :], n, axis=0)
        offset = (np.arange(n, dtype=np.intp) * _N_CODES)[:, None]
        adv_flat = np.ascontiguousarray(adv[lo:hi]).ravel()
        cum_flat = np.ascontiguousarray(cum[lo:hi]).ravel()
        event_flat = np.tile(_EVENT_OF_CODE, n)
        for year in range(years):
            u = rng.random((n, n_proj), dtype=np.float32)
            flat = code + offset
            advance = u < adv_flat.take(flat)
            stop = (u < cum_flat.take(flat)) ^ advance  # P(adv) <= P(adv or stop)
            event = event_flat.take(flat)
            event *= advance
            sim, proj = np.nonzero(event)
            kind = event[sim, proj].astype(np.intp) - 1
            totals[:, lo:hi, year] = np.bincount(kind * n + sim, minlength=n_ev * n).reshape(
                n_ev, n
            )
            for membership, out in zip(memberships, grouped, strict=True):
                which, group = membership.expand(proj)
                n_groups = len(membership.labels)
                key = (kind[which] * n + sim[which]) * n_groups + group
                out[:, lo:hi, year] = np.bincount(key, minlength=n_ev * n * n_groups).reshape(
                    n_ev, n, n_groups
                )
            code += advance
            np.putmask(code, stop, _STOPPED)
            if states is not None:
                states[year, lo:hi] = code
    return totals, grouped, states


@dataclass(frozen=True)
class _Prepared:
    """A projects table made ready for the kernel."""

    project_id: np.ndarray
    stage: np.ndarray  # (P,) start stage codes
    codes: np.ndarray  # (P,) int8
    rare: np.ndarray  # (P,) bool
    left_out: int
    memberships: tuple[_Membership, ...]
    base_year: int | None


GROUPINGS = {"atmp_class": False, "platforms": True}  # column -> multi-valued (;-joined)


def _prepare(
    projects: pd.DataFrame, assumptions: Assumptions, *, groupings: bool = True
) -> _Prepared:
    for column in ("project_id", "stage_code"):
        if column not in projects:
            raise ValueError(f"projects: missing column {column!r}")
    ids = projects["project_id"].astype("string")
    if ids.duplicated().any():
        raise ValueError(
            f"projects: project {ids[ids.duplicated()].iloc[0]} appears more than once; "
            "pass one wave"
        )
    stage = pd.array(projects["stage_code"], dtype="Int64")
    state = _states_of(stage, _stage_lookup(assumptions), "projects")
    keep = state >= 0
    kept = projects[keep]
    rare = _rare_flags(kept.get("rare_disease"), int(keep.sum()))
    codes = (state[keep] + _N_STATES * rare).astype(np.int8)
    memberships = ()
    if groupings:
        memberships = tuple(
            _Membership.of(col, kept[col].reset_index(drop=True), multi=multi)
            for col, multi in GROUPINGS.items()
            if col in kept
        )
    base_year = None
    if "wave" in projects and len(projects):
        waves = projects["wave"].to_numpy()
        if (waves == waves[0]).all():
            base_year = int(waves[0])
    return _Prepared(
        project_id=ids[keep].to_numpy(dtype=object),
        stage=stage[keep].to_numpy(dtype=np.int64),
        codes=codes,
        rare=rare,
        left_out=int((~keep).sum()),
        memberships=memberships,
        base_year=base_year,
    )


# --------------------------------------------------------------------------- forecast


@dataclass(frozen=True)
class Forecast:
    """Simulated event counts; :meth:`summary` tabulates them.

    Attributes
    ----------
    counts
        Event (:data:`EVENTS`) -> array (simulations, years) of the events in each year.
    groups
        Grouping column -> (group labels, event -> array (simulations, years, groups)).
        A project in several platforms counts once in each; one without an answer
        counts in the group "Not answered".
    years, simulations, seed, interval
        As simulated; ``interval`` is the width of the intervals :meth:`summary` gives.
    base_year
        The wave forecast from; year 1 is the year up to the next survey, reported as
        calendar year ``base_year + 1``.
    projects, left_out
        Projects simulated, and projects left out because their stage is missing.
    project_ids, start
        The simulated projects' ids, and their states at the start (indices into
        :data:`ALL_STATES`), in the order of :attr:`states`' last axis.
    states
        With ``simulate(keep_states=True)``: the state of each project after each year of
        each simulation, an ``int8`` array (years, simulations, projects) of indices into
        :data:`ALL_STATES`; else ``None``.
    """

    counts: dict[str, np.ndarray]
    groups: dict[str, tuple[tuple[str, ...], dict[str, np.ndarray]]]
    years: int
    simulations: int
    seed: int
    interval: float
    base_year: int | None
    projects: int
    left_out: int
    project_ids: np.ndarray | None = None
    start: np.ndarray | None = None
    states: np.ndarray | None = None

    def cumulative(self, event: str) -> np.ndarray:
        """Simulated number of ``event`` over the whole horizon, one per simulation."""
        return self.counts[event].sum(axis=1)

    def summary(self, by: str | None = None) -> pd.DataFrame:
        """Mean and interval of the events per year and cumulated, in total or per group.

        Parameters
        ----------
        by
            ``None`` for the centre's total, or a grouping column the projects had
            (``"atmp_class"``, ``"platforms"``).

        Returns
        -------
        pandas.DataFrame
            One row per (group,) event and year: ``[by]``, ``event``, ``year`` (1 = the
            year after the wave), ``calendar_year`` (when the base year is known),
            ``mean``, ``low``, ``high`` (events in that year) and ``cumulative_mean``,
            ``cumulative_low``, ``cumulative_high`` (up to and including it), and
            ``p_any`` (the probability of at least one event by then). ``low`` and
            ``high`` are the ``(1 - interval) / 2`` and ``(1 + interval) / 2`` quantiles
            of the simulated counts (a count the simulations reach, so the interval
            [low, high] holds at least ``interval`` of them: a little more, as counts are
            whole numbers).
        """
        q = ((1 - self.interval) / 2, (1 + self.interval) / 2)
        if by is None:
            labels: tuple[str | None, ...] = (None,)
            arrays = {e: self.counts[e][..., None] for e in EVENTS}
        elif by in self.groups:
            labels, arrays = self.groups[by]
        else:
            known = ", ".join(self.groups) or "none: the projects had no grouping column"
            raise ValueError(f"summary(by={by!r}): unknown grouping; known: {known}")
        frames = []
        for event in EVENTS:  # three events; each is summarised for all years and groups
            x = arrays[event]  # (S, years, G)
            cum = x.cumsum(axis=1)
            band = np.quantile(x, q, axis=0, method="inverted_cdf")
            cum_band = np.quantile(cum, q, axis=0, method="inverted_cdf")
            year, group = np.meshgrid(
                np.arange(1, self.years + 1), np.arange(len(labels)), indexing="ij"
            )
            part = {
                "event": event,
                "year": year.ravel(),
                "mean": x.mean(axis=0).ravel(),
                "low": band[0].ravel().astype(np.int64),
                "high": band[1].ravel().astype(np.int64),
                "cumulative_mean": cum.mean(axis=0).ravel(),
                "cumulative_low": cum_band[0].ravel().astype(np.int64),
                "cumulative_high": cum_band[1].ravel().astype(np.int64),
                "p_any": (cum > 0).mean(axis=0).ravel(),
            }
            if by is not None:
                part = {by: np.asarray(labels, dtype=object)[group.ravel()], **part}
            frames.append(pd.DataFrame(part))
        table = pd.concat(frames, ignore_index=True)
        if self.base_year is not None:
            table.insert(
                table.columns.get_loc("year") + 1, "calendar_year", table["year"] + self.base_year
            )
        keys = ([by] if by is not None else []) + ["event", "year"]
        table["event"] = pd.Categorical(table["event"], categories=EVENTS)
        table = table.sort_values(keys, kind="stable").reset_index(drop=True)
        table["event"] = table["event"].astype(str)
        table.attrs["interval"] = self.interval
        table.attrs["simulations"] = self.simulations
        return table


def _check_run(years: int, simulations: int) -> None:
    if isinstance(years, bool) or not isinstance(years, int | np.integer) or years < 1:
        raise ValueError(f"years must be a whole number of at least 1, not {years!r}")
    if (
        isinstance(simulations, bool)
        or not isinstance(simulations, int | np.integer)
        or simulations < 1
    ):
        raise ValueError(f"simulations must be a whole number of at least 1, not {simulations!r}")


def _settings(
    assumptions: Assumptions, years: int | None, simulations: int | None, seed: int | None
) -> tuple[int, int, int]:
    """The run's horizon, number of simulations and seed: as given, else the assumptions'."""
    years = assumptions.horizon_years if years is None else years
    simulations = assumptions.simulations if simulations is None else simulations
    seed = assumptions.seed if seed is None else seed
    _check_run(years, simulations)
    return years, simulations, seed


def _simulated(prepared, alphas, shared, years, simulations, seed, memberships=(), *, record=False):
    """Draw each simulation's probabilities from ``alphas`` and step the projects: the event
    counts in total and per grouping (:func:`_run`), from one seed; with ``record`` also
    each project's state after each year (years, S, P), as indices into :data:`ALL_STATES`."""
    param_seq, step_seq = np.random.SeedSequence(seed).spawn(2)
    probabilities = _draw(alphas, shared, simulations, param_seq)
    adv, cum = _thresholds(probabilities)
    totals, grouped, states = _run(
        prepared.codes, adv, cum, years, step_seq, memberships, record=record
    )
    if states is not None:
        states %= _N_STATES  # the rare-disease offset is the projects', not the state's
    return totals, grouped, states


def simulate(
    projects_now: pd.DataFrame,
    assumptions: Assumptions,
    *,
    transitions: pd.DataFrame | None = None,
    years: int | None = None,
    simulations: int | None = None,
    seed: int | None = None,
    base_year: int | None = None,
    keep_states: bool = False,
) -> Forecast:
    """Forecast the events of a centre's projects over the coming years.

    Parameters
    ----------
    projects_now
        One row per project (one wave): ``project_id``, ``stage_code``, optionally
        ``rare_disease`` and the grouping columns ``atmp_class`` and ``platforms``
        (``;``-joined). Projects without a stage are left out and counted in
        :attr:`Forecast.left_out`.
    assumptions
        The prior (:func:`load_assumptions`).
    transitions
        The centre's :func:`observed_transitions`, to update the prior.
    years, simulations, seed
        Default: the assumptions' ``horizon_years``, ``simulations`` and ``seed``.
    base_year
        The wave forecast from, for calendar years (default: the ``wave`` column when it
        holds one year).
    keep_states
        Keep every project's state after each year of each simulation in
        :attr:`Forecast.states` (``years x simulations x projects`` bytes), for what
        depends on where the projects are rather than on events (the infrastructure's
        demand, :mod:`atmp_analysis.demand`).

    Returns
    -------
    Forecast

    Examples
    --------
    >>> now = pd.DataFrame({"project_id": ["a", "b"], "stage_code": [10, 1]})
    >>> f = simulate(now, load_assumptions(), simulations=2000, seed=1)
    >>> bool(f.cumulative("approval").max() <= 1), f.projects
    (True, 2)
    """
    years, simulations, seed = _settings(assumptions, years, simulations, seed)
    prepared = _prepare(projects_now, assumptions)
    prior = _Prior.of(assumptions)
    alphas = prior.alphas() + _counts(transitions, prior.shared)
    totals, grouped, states = _simulated(
        prepared,
        alphas,
        prior.shared,
        years,
        simulations,
        seed,
        prepared.memberships,
        record=keep_states,
    )
    return Forecast(
        counts={e: totals[i] for i, e in enumerate(EVENTS)},
        groups={
            m.name: (m.labels, {e: arr[i] for i, e in enumerate(EVENTS)})
            for m, arr in zip(prepared.memberships, grouped, strict=True)
        },
        years=years,
        simulations=simulations,
        seed=seed,
        interval=assumptions.interval,
        base_year=base_year if base_year is not None else prepared.base_year,
        projects=len(prepared.codes),
        left_out=prepared.left_out,
        project_ids=prepared.project_id,
        start=(prepared.codes % _N_STATES).astype(np.int8),
        states=states,
    )


def sensitivity(
    projects_now: pd.DataFrame,
    assumptions: Assumptions,
    *,
    transitions: pd.DataFrame | None = None,
    years: int | None = None,
    simulations: int | None = None,
    seed: int | None = None,
) -> pd.DataFrame:
    """The tornado view: how much each assumption moves the expected events.

    For each state and each of its assumptions, ``p`` (times 0.5 and 1.5, clipped to
    [0.01, 0.99]; ``p_rare`` moves with it) and ``years`` (times 0.5, floored at 1, and
    times 2), the expected cumulative first-in-human and approvals over the horizon with
    that assumption low and high and all else at default. Every run uses the same random
    numbers (common random numbers: the same yearly uniforms, and the same parameter
    draws for every other state), so the differences are the assumption's, not noise.

    Returns
    -------
    pandas.DataFrame
        ``state``, ``assumption``, ``elicited``, ``default``, ``low``, ``high`` (the
        values, p as used), ``fih_low``, ``fih_high``, ``fih_swing`` (high - low),
        ``approval_low``, ``approval_high``, ``approval_swing``; sorted by the size of
        the swing of expected first-in-human, largest first (then by that of approvals).
        ``attrs["baseline"]`` holds the expected events with every assumption at default.
    """
    years, simulations, seed = _settings(assumptions, years, simulations, seed)
    prepared = _prepare(projects_now, assumptions, groupings=False)
    base = _Prior.of(assumptions)
    counts = _counts(transitions, base.shared)

    def expected(prior: _Prior) -> tuple[float, float]:
        # the same seed for every run: common random numbers, so differences are not noise
        alphas = prior.alphas() + counts
        totals, _, _ = _simulated(prepared, alphas, prior.shared, years, simulations, seed)
        per_sim = totals.sum(axis=2).mean(axis=1)
        return float(per_sim[EVENTS.index("fih")]), float(per_sim[EVENTS.index("approval")])

    rows = []
    for k, name in enumerate(STATES):  # a loop over states; each run is vectorised
        for assumption in ("p", "years"):
            values = []
            results = []
            for factor in P_FACTORS if assumption == "p" else YEARS_FACTORS:
                if assumption == "p":
                    p = base.p.copy()
                    p[:, k] = np.clip(p[:, k] * factor, *P_CLIP)
                    prior = _Prior(base.years, p, base.strength, base.shared)
                    values.append(float(p[0, k]))
                else:
                    y = base.years.copy()
                    y[k] = max(1.0, y[k] * factor)
                    prior = _Prior(y, base.p, base.strength, base.shared)
                    values.append(float(y[k]))
                results.append(expected(prior))
            rows.append(
                {
                    "state": name,
                    "assumption": assumption,
                    "elicited": assumptions.state(name).elicited,
                    "default": float(base.p[0, k] if assumption == "p" else base.years[k]),
                    "low": values[0],
                    "high": values[1],
                    "fih_low": results[0][0],
                    "fih_high": results[1][0],
                    "approval_low": results[0][1],
                    "approval_high": results[1][1],
                }
            )
    table = pd.DataFrame(rows)
    table["fih_swing"] = table["fih_high"] - table["fih_low"]
    table["approval_swing"] = table["approval_high"] - table["approval_low"]
    table = table.assign(
        _fih=table["fih_swing"].abs(), _approval=table["approval_swing"].abs()
    ).sort_values(["_fih", "_approval"], ascending=False, kind="stable")
    table = table.drop(columns=["_fih", "_approval"]).reset_index(drop=True)
    columns = [
        "state",
        "assumption",
        "elicited",
        "default",
        "low",
        "high",
        "fih_low",
        "fih_high",
        "fih_swing",
        "approval_low",
        "approval_high",
        "approval_swing",
    ]
    table = table[columns]
    fih, approval = expected(base)
    table.attrs["baseline"] = {"fih": fih, "approval": approval}
    return table


# --------------------------------------------------------------------------- known truth


@dataclass(frozen=True)
class Realisation:
    """One realised future under known probabilities (:func:`simulate_truth`).

    Attributes
    ----------
    events
        Index ``year`` (1..years), columns :data:`EVENTS`: the events in each year.
    stages
        One row per project and year (0 = the start): ``project_id``, ``year``,
        ``rare``, ``state`` and ``stage_code`` (the start stage while the project stays
        in its first state, else the first stage code of its state; ``approved`` is
        stage 11, as the survey cannot tell it from filing; ``<NA>`` once stopped).
    """

    events: pd.DataFrame
    stages: pd.DataFrame

    def wave(self, year: int, wave: int) -> pd.DataFrame:
        """The survey a centre would see after ``year`` years, labelled ``wave``.

        The projects that have not stopped, with ``project_id``, ``wave``, ``stage_code``
        (Int64) and ``rare_disease`` (``yes``/``no``): stopped projects are simply absent,
        as they would be from a survey.
        """
        at = self.stages[(self.stages["year"] == year) & self.stages["stage_code"].notna()]
        return pd.DataFrame(
            {
                "project_id": at["project_id"].to_numpy(),
                "wave": wave,
                "stage_code": pd.array(at["stage_code"], dtype="Int64"),
                "rare_disease": np.where(at["rare"].to_numpy(dtype=bool), "yes", "no"),
            }
        )


def simulate_truth(
    projects_now: pd.DataFrame,
    probabilities: np.ndarray | Mapping[str, Any],
    *,
    assumptions: Assumptions | None = None,
    years: int,
    seed: int,
) -> Realisation:
    """Step projects with known per-state probabilities: one realised future.

    The same dynamics as :func:`simulate` without parameter uncertainty, for testing the
    forecast against a known truth: the realised events and stages (from which later
    survey waves can be made, :meth:`Realisation.wave`).

    Parameters
    ----------
    projects_now
        ``project_id``, ``stage_code`` and optionally ``rare_disease``.
    probabilities
        Of :data:`OUTCOMES` (stay, advance, stop) per state: an array ``(len(STATES), 3)``
        for all projects or ``(2, len(STATES), 3)`` for other and rare-disease projects
        (one draw of :func:`draw_probabilities`), or a mapping state -> three numbers.
    assumptions
        For the mapping of stage codes onto states (default: the shipped assumptions).
    years, seed
        Years to step; the seed of the yearly uniforms.

    Examples
    --------
    >>> now = pd.DataFrame({"project_id": ["a"], "stage_code": [6]})
    >>> sure = {s: (0.0, 1.0, 0.0) for s in STATES}
    >>> simulate_truth(now, sure, years=2, seed=0).events["fih"].tolist()
    [1, 0]
    """
    assumptions = assumptions or load_assumptions()
    _check_run(years, 1)
    if isinstance(probabilities, Mapping):
        unknown = set(probabilities) - set(STATES)
        if unknown:
            raise ValueError(f"probabilities: unknown state {sorted(unknown)[0]!r}")
        probs = np.array([probabilities[s] for s in STATES], dtype=float)
    else:
        probs = np.asarray(probabilities, dtype=float)
    if probs.shape == (_K, 3):
        probs = np.stack([probs, probs])
    if probs.shape != (2, _K, 3):
        raise ValueError(f"probabilities: expected shape ({_K}, 3) or (2, {_K}, 3)")
    if (probs < 0).any() or not np.allclose(probs.sum(axis=-1), 1):
        raise ValueError("probabilities: each state's stay, advance, stop must sum to 1")
    prepared = _prepare(projects_now, assumptions, groupings=False)
    adv, cum = _thresholds(probs[None])
    totals, _, states = _run(
        prepared.codes, adv, cum, years, np.random.SeedSequence(seed), record=True
    )
    events = pd.DataFrame(
        {e: totals[i, 0] for i, e in enumerate(EVENTS)},
        index=pd.RangeIndex(1, years + 1, name="year"),
    )
    state = np.concatenate([prepared.codes[None], states[:, 0]]) % _N_STATES  # (years+1, P)
    start = state[0]
    first_stage = np.zeros(_N_STATES, dtype=np.int64)
    for k, s in enumerate(assumptions.states):
        first_stage[k] = min(s.stage_codes)
    first_stage[_APPROVED] = max(assumptions.state("filing").stage_codes)
    stage = np.where(state == start, prepared.stage[None, :], first_stage[state])
    n_proj = len(prepared.codes)
    stages = pd.DataFrame(
        {
            "project_id": np.tile(prepared.project_id, years + 1),
            "year": np.repeat(np.arange(years + 1), n_proj),
            "rare": np.tile(prepared.rare, years + 1),
            "state": pd.array(np.array(ALL_STATES, dtype=object)[state.ravel()], dtype="string"),
            "stage_code": pd.array(stage.ravel(), dtype="Int64"),
        }
    )
    stages.loc[stages["state"] == "stopped", "stage_code"] = pd.NA
    return Realisation(events=events, stages=stages)
