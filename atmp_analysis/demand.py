"""The demand on a centre's infrastructure: what to plan for in the next 1-2 and 5-10 years.

From the pipeline forecast (:mod:`atmp_analysis.forecast`) and the survey's support needs,
the number of projects that will need the centre's GMP manufacturing, viral vector
production, quality control and regulatory support each year, and the patients its trials
will treat, hence the hospital bed-days and beds, each with an interval and its assumptions
stated (``atmp_analysis/data/reference/demand_assumptions.yaml``).

The model
---------
States. :func:`atmp_analysis.forecast.simulate` with ``keep_states=True`` records the
development state of every project after each simulated year (year 1 is the year after the
survey wave). Demand depends on where the projects are, not on events: a project needs GMP
product while it is in CTA-enabling studies or a trial, not only in the year it starts one.

Resources. Each resource of the YAML names the states in which a project needs it and
which projects are eligible: every project or only those that named the resource's
support need (``projects: all | stated``), optionally only those on some platforms (viral
vectors: the viral platforms) and made by some manufacturers (the centre's own or the
hospital's GMP unit, or not decided: a CDMO or industry partner does not load the centre's
facility). The demand of a simulated year is the number of eligible projects in a state that
needs the resource. Eligibility is the survey's answer now and does not change as a
project advances.

Patients. Every project in a trial state (``phase1``, ``phase2``, ``phase3``) treats a
number of patients a year; the rate of each state is drawn once per simulation from a
triangular distribution (the planning value's own uncertainty, shared by all projects of a
simulation, which widens the interval more than independent draws per project would). The
patients of a simulated year are the sum over trial states of the projects in the state times
the simulation's rate; they are expected numbers, not whole patients.

Beds. Bed-days are patients times inpatient days per patient, drawn per simulation from a
triangular distribution per product group (immune-cell products, T and NK cells, stay longer:
CAR-T-like monitoring); beds are bed-days / 365 / the occupancy target.

Summaries. :meth:`Demand.per_year` gives the mean and the forecast's interval (the 10th and
90th percentiles for an interval of 0.8) of each year; :meth:`Demand.horizons` sums the
years into the survey's planning bands: the mean per year, and the peak year of each
simulation, which is what capacity must cover. Beside them, ``stated``: how many current
projects named the need for that horizon, the survey's own answer.

Approximations, stated where they are made: a project needs a resource for whole years (a
state it enters during a year counts from the end of that year, as the forecast steps
yearly); every trial of the centre's projects treats its patients in the centre's hospital;
a resource's eligibility (platform, manufacturer, stated need) is today's answer.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from atmp_analysis.config import REFERENCE_DIR
from atmp_analysis.errors import SurveyError
from atmp_analysis.forecast import ALL_STATES, STATES, Forecast

__all__ = [
    "DAYS_PER_YEAR",
    "HOSPITAL",
    "Demand",
    "DemandAssumptions",
    "DemandAssumptionsError",
    "Resource",
    "StayGroup",
    "Triangular",
    "demand",
    "demand_assumptions_from_dict",
    "load_demand_assumptions",
]

#: The shipped assumptions.
DEMAND_ASSUMPTIONS_FILE = REFERENCE_DIR / "demand_assumptions.yaml"
FORMAT_VERSION = 1
#: Days a bed is available in a year (beds = bed-days / DAYS_PER_YEAR / occupancy).
DAYS_PER_YEAR = 365
#: The hospital's measures, after the project resources: name -> unit.
HOSPITAL = {"patients": "patients", "bed_days": "bed-days", "beds": "beds"}
#: The survey's support horizons (the answers ``stated`` is counted for).
SURVEY_HORIZONS = ("1-2 years", "3-5 years", "5-10 years")
NOT_ANSWERED = "Not answered"
PROJECTS = ("all", "stated")

_TOP_KEYS = {"demand", "resources", "patients", "beds", "horizons"}
_RESOURCE_KEYS = {"label", "need", "states", "projects", "platforms", "manufacturers", "why"}
_TRIANGLE_KEYS = {"low", "mode", "high", "source"}
# A tag mixed into the seed, so the demand's draws are not the forecast's own streams.
_STREAM_TAG = 0x44454D41  # "DEMA"


class DemandAssumptionsError(SurveyError, ValueError):
    """A demand assumptions file with a bad value; the message names the file and key."""


# --------------------------------------------------------------------------- vocabularies


@cache
def _vocabularies() -> dict[str, tuple[str, ...]]:
    """The labels the YAML may use: support needs, platforms, manufacturers."""
    from atmp_analysis.derive import platform_table
    from atmp_analysis.instrument import Instrument

    instrument = Instrument.default()
    return {
        "needs": tuple(instrument["support_needs"].choices.values()),
        "platforms": tuple(dict.fromkeys(platform_table()["platform"])),
        "manufacturers": (*instrument["manufacturer"].choices.values(), NOT_ANSWERED),
    }


@cache
def _manufacturer_codes() -> dict[str, str]:
    """Instrument code (as text) -> manufacturer label."""
    from atmp_analysis.instrument import Instrument

    return {str(k): v for k, v in Instrument.default()["manufacturer"].choices.items()}


# --------------------------------------------------------------------------- assumptions


@dataclass(frozen=True)
class Triangular:
    """A triangular distribution ``(low, mode, high)`` of a planning value, with its source."""

    low: float
    mode: float
    high: float
    source: str

    @property
    def mean(self) -> float:
        """``(low + mode + high) / 3``."""
        return (self.low + self.mode + self.high) / 3

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` draws (a fixed value when ``low == high``)."""
        if self.low == self.high:
            return np.full(size, float(self.low))
        return rng.triangular(self.low, self.mode, self.high, size=size)

    def describe(self) -> str:
        """``triangular(low, mode, high), mean m``."""
        return f"triangular({self.low:g}, {self.mode:g}, {self.high:g}), mean {self.mean:.3g}"


@dataclass(frozen=True)
class Resource:
    """One resource of the centre and the projects that need it (see the YAML).

    ``platforms`` and ``manufacturers`` are ``None`` for no filter; ``projects`` is
    ``"all"`` or ``"stated"`` (only projects whose ``support_needs`` name ``need``).
    """

    name: str
    label: str
    need: str
    states: tuple[str, ...]
    projects: str
    why: str
    platforms: tuple[str, ...] | None = None
    manufacturers: tuple[str, ...] | None = None

    def describe(self) -> str:
        """The assumption in words, for the appendix."""
        parts = [f"projects in {', '.join(self.states)}"]
        parts.append(
            "every project" if self.projects == "all" else f'projects that named "{self.need}"'
        )
        if self.platforms is not None:
            parts.append(f"on platforms {', '.join(self.platforms)}")
        if self.manufacturers is not None:
            parts.append(f"made by: {', '.join(self.manufacturers)}")
        return "; ".join(parts)


@dataclass(frozen=True)
class StayGroup:
    """Inpatient days per patient for the products of some platforms (none: the rest)."""

    name: str
    label: str
    platforms: tuple[str, ...]
    days: Triangular


@dataclass(frozen=True)
class DemandAssumptions:
    """The demand model's assumptions; read them with :func:`load_demand_assumptions`.

    Change one with :func:`dataclasses.replace`.

    Attributes
    ----------
    resources
        The project resources, in report order.
    patients
        Trial state -> patients treated per project and year.
    patients_need, patients_why
        The survey's support-need label of hospital capacity, and the assumption of who
        is counted.
    stays
        Inpatient days per patient by product group, in matching order; the last group
        has no platforms and takes every other project.
    occupancy, occupancy_source
        The average bed occupancy to plan for, and its source.
    horizons, horizons_source
        Planning band -> (first year, last year), and where the bands come from.
    source
        The file read.
    """

    resources: tuple[Resource, ...]
    patients: Mapping[str, Triangular]
    patients_need: str
    patients_why: str
    stays: tuple[StayGroup, ...]
    occupancy: float
    occupancy_source: str
    horizons: Mapping[str, tuple[int, int]]
    horizons_source: str
    source: str = "demand assumptions"

    def resource(self, name: str) -> Resource:
        """The resource called ``name``."""
        for resource in self.resources:
            if resource.name == name:
                return resource
        known = ", ".join(r.name for r in self.resources)
        raise KeyError(f"no resource {name!r}; the resources are {known}")

    def table(self) -> pd.DataFrame:
        """The assumptions for the report's appendix, one row per assumption.

        Returns
        -------
        pandas.DataFrame
            ``what``, ``value`` (in words) and ``source`` (the YAML's ``why`` or
            ``source`` text).

        Examples
        --------
        >>> t = load_demand_assumptions().table()
        >>> list(t.columns), bool(t["source"].str.len().gt(0).all())
        (['what', 'value', 'source'], True)
        """
        rows = [
            {"what": f"{r.label}: who needs it", "value": r.describe(), "source": r.why}
            for r in self.resources
        ]
        rows.append(
            {
                "what": "Patients: projects counted",
                "value": "every project in a trial state ("
                + ", ".join(self.patients)
                + "), treated in the centre's hospital",
                "source": self.patients_why,
            }
        )
        rows += [
            {
                "what": f"Patients treated per project and year, {state}",
                "value": t.describe(),
                "source": t.source,
            }
            for state, t in self.patients.items()
        ]
        rows += [
            {
                "what": f"Inpatient days per patient, {g.label}",
                "value": g.days.describe()
                + (f"; platforms {', '.join(g.platforms)}" if g.platforms else "; the rest"),
                "source": g.days.source,
            }
            for g in self.stays
        ]
        rows.append(
            {
                "what": "Bed occupancy target",
                "value": f"{self.occupancy:.0%} (beds = bed-days / {DAYS_PER_YEAR} / occupancy)",
                "source": self.occupancy_source,
            }
        )
        rows += [
            {
                "what": f"Planning band {band}",
                "value": f"years {first}-{last} after the survey wave",
                "source": self.horizons_source,
            }
            for band, (first, last) in self.horizons.items()
        ]
        return pd.DataFrame(rows, columns=["what", "value", "source"])


def load_demand_assumptions(path: str | Path | None = None) -> DemandAssumptions:
    """Read and check the demand assumptions.

    Parameters
    ----------
    path
        A YAML file in the format of the shipped one (default:
        ``atmp_analysis/data/reference/demand_assumptions.yaml``).

    Returns
    -------
    DemandAssumptions

    Raises
    ------
    DemandAssumptionsError
        A ``ValueError`` naming the file and the key, for a missing or unreadable file,
        an unknown key, state, platform, manufacturer or support need, a triangular
        distribution that is not ``0 <= low <= mode <= high``, an occupancy outside
        (0, 1], a band that is not ``1 <= first <= last``, or a missing source.

    Examples
    --------
    >>> a = load_demand_assumptions()
    >>> [r.name for r in a.resources]
    ['gmp_manufacturing', 'viral_vector', 'quality_control', 'regulatory_support']
    >>> a.occupancy, dict(a.horizons)["5-10 years"]
    (0.85, (5, 10))
    """
    from atmp_analysis.errors import read_yaml

    path = Path(path) if path is not None else DEMAND_ASSUMPTIONS_FILE
    data = read_yaml(path, "demand assumptions file", DemandAssumptionsError)
    return demand_assumptions_from_dict(data, source=str(path))


def demand_assumptions_from_dict(
    data: Any, *, source: str = "demand assumptions"
) -> DemandAssumptions:
    """Check and build :class:`DemandAssumptions` from parsed YAML (see
    :func:`load_demand_assumptions`)."""
    vocab = _vocabularies()

    def fail(key: str, message: str) -> DemandAssumptionsError:
        return DemandAssumptionsError(f"{source}: {key}: {message}")

    def mapping(value: Any, key: str, expected: str) -> dict:
        if not isinstance(value, dict):
            raise fail(key, f"expected {expected}, not {value!r}")
        return value

    def known_keys(entry: dict, allowed: set[str], key: str) -> None:
        extra = sorted(map(str, set(entry) - allowed))
        if extra:
            raise fail(f"{key}.{extra[0]}", "unknown key")

    def required(entry: dict, key: str, *names: str) -> None:
        for name in names:
            if name not in entry:
                raise fail(f"{key}.{name}", "missing")

    def number(value: Any, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise fail(key, f"expected a number, not {value!r}")
        return float(value)

    def text(value: Any, key: str, what: str = "a text") -> str:
        if not isinstance(value, str) or not value.strip():
            raise fail(key, f"expected {what}, not {value!r}")
        return " ".join(value.split())

    def labels(value: Any, key: str, allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            raise fail(key, f"expected a list of {what}, not {value!r}")
        for item in value:
            if item not in allowed:
                raise fail(key, f"{item!r} is not one of the {what}: {', '.join(allowed)}")
        if len(set(value)) < len(value):
            raise fail(key, "lists a value twice")
        return tuple(value)

    def triangular(entry: Any, key: str) -> Triangular:
        entry = mapping(entry, key, "low, mode, high and source")
        known_keys(entry, _TRIANGLE_KEYS, key)
        required(entry, key, *sorted(_TRIANGLE_KEYS))
        low, mode, high = (number(entry[k], f"{key}.{k}") for k in ("low", "mode", "high"))
        if low < 0:
            raise fail(f"{key}.low", f"must not be negative, not {entry['low']!r}")
        if not low <= mode <= high:
            raise fail(
                f"{key}.mode",
                f"need low <= mode <= high, not {low:g}, {mode:g}, {high:g}",
            )
        cited = text(entry["source"], f"{key}.source", "a source (cite where the values come from)")
        return Triangular(low=low, mode=mode, high=high, source=cited)

    if not isinstance(data, dict) or "resources" not in data:
        raise DemandAssumptionsError(
            f"{source}: not demand assumptions: expected a mapping with 'demand: 1' and "
            "'resources:'"
        )
    version = data.get("demand")
    if version != FORMAT_VERSION:
        raise fail("demand", f"format {version!r} is not known; this package reads 1")
    unknown = sorted(map(str, set(data) - _TOP_KEYS))
    if unknown:
        raise fail(unknown[0], "unknown key")
    for key in sorted(_TOP_KEYS):
        if key not in data:
            raise fail(key, "missing")

    # resources
    entries = mapping(data["resources"], "resources", "a mapping of resource names")
    if not entries:
        raise fail("resources", "name at least one resource")
    resources = []
    for name, entry in entries.items():
        key = f"resources.{name}"
        if not isinstance(name, str) or not name.isidentifier() or name in HOSPITAL:
            raise fail(
                key,
                "a resource's name must be a word of letters, digits and _ other than "
                + ", ".join(HOSPITAL),
            )
        entry = mapping(entry, key, "label, need, states, projects and why")
        known_keys(entry, _RESOURCE_KEYS, key)
        required(entry, key, "label", "need", "states", "projects", "why")
        need = entry["need"]
        if need not in vocab["needs"]:
            raise fail(
                f"{key}.need",
                f"{need!r} is not a support need of the instrument: {', '.join(vocab['needs'])}",
            )
        states = labels(entry["states"], f"{key}.states", STATES, "states")
        projects = entry["projects"]
        if projects not in PROJECTS:
            raise fail(f"{key}.projects", f"expected all or stated, not {projects!r}")
        platforms = entry.get("platforms")
        if platforms is not None:
            platforms = labels(platforms, f"{key}.platforms", vocab["platforms"], "platforms")
        makers = entry.get("manufacturers")
        if makers is not None:
            makers = labels(makers, f"{key}.manufacturers", vocab["manufacturers"], "manufacturers")
        resources.append(
            Resource(
                name=name,
                label=text(entry["label"], f"{key}.label"),
                need=need,
                states=tuple(s for s in STATES if s in states),
                projects=projects,
                why=text(entry["why"], f"{key}.why", "the assumption in words"),
                platforms=platforms,
                manufacturers=makers,
            )
        )

    # patients
    patients = mapping(data["patients"], "patients", "need, why and per_project_year")
    known_keys(patients, {"need", "why", "per_project_year"}, "patients")
    required(patients, "patients", "need", "why", "per_project_year")
    if patients["need"] not in vocab["needs"]:
        raise fail("patients.need", f"{patients['need']!r} is not a support need of the instrument")
    rates = mapping(
        patients["per_project_year"], "patients.per_project_year", "a mapping of trial states"
    )
    if not rates:
        raise fail("patients.per_project_year", "give at least one state")
    for state in rates:
        if state not in STATES:
            raise fail(
                f"patients.per_project_year.{state}",
                f"unknown state; the states are {', '.join(STATES)}",
            )
    per_state = {
        state: triangular(rates[state], f"patients.per_project_year.{state}")
        for state in STATES
        if state in rates
    }

    # beds
    beds = mapping(data["beds"], "beds", "occupancy, occupancy_source and days_per_patient")
    known_keys(beds, {"occupancy", "occupancy_source", "days_per_patient"}, "beds")
    required(beds, "beds", "occupancy", "occupancy_source", "days_per_patient")
    occupancy = number(beds["occupancy"], "beds.occupancy")
    if not 0 < occupancy <= 1:
        raise fail(
            "beds.occupancy", f"must be above 0 and at most 1 (e.g. 0.85), not {occupancy!r}"
        )
    groups = mapping(
        beds["days_per_patient"], "beds.days_per_patient", "a mapping of product groups"
    )
    if not groups:
        raise fail("beds.days_per_patient", "give at least one group (the last without platforms)")
    stays = []
    last = list(groups)[-1]
    for name, entry in groups.items():
        key = f"beds.days_per_patient.{name}"
        entry = mapping(entry, key, "label, optionally platforms, low, mode, high and source")
        known_keys(entry, _TRIANGLE_KEYS | {"label", "platforms"}, key)
        required(entry, key, "label")
        platforms = entry.get("platforms")
        if name == last and platforms is not None:
            raise fail(f"{key}.platforms", "the last group takes every other project: no platforms")
        if name != last and platforms is None:
            raise fail(
                f"{key}.platforms",
                "missing; only the last group, which takes every other project, has none",
            )
        platforms = (
            labels(platforms, f"{key}.platforms", vocab["platforms"], "platforms")
            if platforms is not None
            else ()
        )
        days = triangular({k: v for k, v in entry.items() if k in _TRIANGLE_KEYS}, key)
        stays.append(
            StayGroup(
                name=str(name),
                label=text(entry["label"], f"{key}.label"),
                platforms=platforms,
                days=days,
            )
        )

    # horizons
    horizons = mapping(data["horizons"], "horizons", "source and bands")
    known_keys(horizons, {"source", "bands"}, "horizons")
    required(horizons, "horizons", "source", "bands")
    bands = mapping(horizons["bands"], "horizons.bands", "a mapping of band -> [first, last]")
    if not bands:
        raise fail("horizons.bands", "give at least one band")
    parsed = {}
    for band, years in bands.items():
        key = f"horizons.bands.{band}"
        if (
            not isinstance(years, list)
            or len(years) != 2
            or any(isinstance(y, bool) or not isinstance(y, int) for y in years)
            or not 1 <= years[0] <= years[1]
        ):
            raise fail(key, f"expected [first, last] years with 1 <= first <= last, not {years!r}")
        parsed[str(band)] = (years[0], years[1])

    return DemandAssumptions(
        resources=tuple(resources),
        patients=MappingProxyType(per_state),
        patients_need=patients["need"],
        patients_why=text(patients["why"], "patients.why", "the assumption in words"),
        stays=tuple(stays),
        occupancy=occupancy,
        occupancy_source=text(beds["occupancy_source"], "beds.occupancy_source", "a source"),
        horizons=MappingProxyType(parsed),
        horizons_source=text(horizons["source"], "horizons.source", "a source"),
        source=source,
    )


# --------------------------------------------------------------------------- project answers


def _items(values: pd.Series) -> pd.Series:
    """One row per item of a ``;``-joined answer (index: the project's position), casefolded."""
    text = pd.Series(values.astype("string").to_numpy(), dtype="string")
    return text.str.split(";").explode().str.strip().str.casefold().replace("", pd.NA).dropna()


def _any_of(values: pd.Series, wanted: tuple[str, ...]) -> np.ndarray:
    """Per project: does its ``;``-joined answer hold any of ``wanted``?"""
    items = _items(values)
    hit = items.isin([w.casefold() for w in wanted]).to_numpy(dtype=bool)
    out = np.zeros(len(values), dtype=bool)
    out[items.index.to_numpy(dtype=np.intp)[hit]] = True
    return out


def _manufacturer_labels(values: pd.Series | None, n: int) -> pd.Series:
    """Manufacturer labels (codes mapped to the instrument's labels), "Not answered" where
    missing; casefolded. A value that is neither a code nor a label is an error: it would
    silently match no filter."""
    if values is None:
        return pd.Series([NOT_ANSWERED.casefold()] * n, dtype="string")
    text = pd.Series(values.astype("string").to_numpy(), dtype="string").str.strip()
    code = text.str.replace(r"\.0$", "", regex=True)
    label = code.map(_manufacturer_codes()).astype("string")
    label = label.fillna(text).replace("", pd.NA).fillna(NOT_ANSWERED).str.casefold()
    known = [m.casefold() for m in _vocabularies()["manufacturers"]]
    unknown = label[~label.isin(known)]
    if len(unknown):
        raise ValueError(
            f"projects_now: manufacturer {text[unknown.index[0]]!r} is neither a code nor a "
            "label of the instrument's manufacturer question"
        )
    return label


def _column(projects: pd.DataFrame, name: str, why: str) -> pd.Series:
    if name not in projects:
        raise ValueError(f"projects_now: missing column {name!r}, which {why} needs")
    return projects[name]


def _aligned(projects_now: pd.DataFrame, project_ids: np.ndarray) -> pd.DataFrame:
    """``projects_now``'s rows in the order of the forecast's projects."""
    if "project_id" not in projects_now:
        raise ValueError("projects_now: missing column 'project_id'")
    ids = pd.Index(projects_now["project_id"].astype("string"))
    if ids.has_duplicates:
        first = ids[ids.duplicated()][0]
        raise ValueError(f"projects_now: project {first} appears more than once; pass one wave")
    where = ids.get_indexer(pd.Index(pd.array(project_ids, dtype="string")))
    if (where < 0).any():
        absent = project_ids[where < 0][0]
        raise ValueError(
            f"projects_now: project {absent} of the forecast is missing; pass the projects "
            "the forecast was made from"
        )
    return projects_now.iloc[where].reset_index(drop=True)


# --------------------------------------------------------------------------- demand


@dataclass(frozen=True)
class Demand:
    """Simulated demand on the centre's resources; :meth:`per_year` and :meth:`horizons`
    tabulate it.

    Attributes
    ----------
    values
        Resource -> array (simulations, years): projects needing each project resource
        (whole numbers), and ``patients``, ``bed_days`` and ``beds`` (expected values).
    labels, units
        Resource -> its label and unit (``projects``, ``patients``, ``bed-days``, ``beds``).
    eligible
        Project resource -> bool array (projects,): the projects that can need it
        (stated need, platform, manufacturer), in the order of ``project_ids``.
    stated
        Resource -> band -> the number of current projects that named its support need
        (for the hospital's measures: hospital capacity) with that support horizon;
        absent where the survey has no such answer.
    project_ids, years, simulations, seed, interval, base_year
        The forecast's projects and settings; ``seed`` is the one of the demand's draws.
    assumptions
        The assumptions used.
    """

    values: Mapping[str, np.ndarray] = field(repr=False)
    labels: Mapping[str, str]
    units: Mapping[str, str]
    eligible: Mapping[str, np.ndarray] = field(repr=False)
    stated: Mapping[str, Mapping[str, int]]
    project_ids: np.ndarray = field(repr=False)
    years: int
    simulations: int
    seed: int
    interval: float
    base_year: int | None
    assumptions: DemandAssumptions = field(repr=False)

    def _quantiles(self) -> tuple[float, float]:
        return ((1 - self.interval) / 2, (1 + self.interval) / 2)

    def per_year(self) -> pd.DataFrame:
        """Mean and interval of each resource in each simulated year.

        Returns
        -------
        pandas.DataFrame
            One row per resource and year: ``resource``, ``label``, ``unit``, ``year``
            (1 = the year after the survey wave), ``calendar_year`` (``<NA>`` when the
            base year is not known), ``mean``, ``low`` and ``high`` (the
            ``(1 - interval) / 2`` and ``(1 + interval) / 2`` quantiles of the
            simulations, values the simulations reach). ``attrs`` hold ``interval`` and
            ``simulations``.
        """
        q = self._quantiles()
        frames = []
        year = np.arange(1, self.years + 1)
        for name, x in self.values.items():  # a handful of resources; each is vectorised
            band = np.quantile(x, q, axis=0, method="inverted_cdf")
            frames.append(
                pd.DataFrame(
                    {
                        "resource": name,
                        "label": self.labels[name],
                        "unit": self.units[name],
                        "year": year,
                        "mean": x.mean(axis=0),
                        "low": band[0].astype(float),
                        "high": band[1].astype(float),
                    }
                )
            )
        table = pd.concat(frames, ignore_index=True)
        calendar = table["year"] + self.base_year if self.base_year is not None else pd.NA
        table.insert(4, "calendar_year", pd.array(calendar, dtype="Int64"))
        for column in ("resource", "label", "unit"):
            table[column] = table[column].astype("string")
        table.attrs["interval"] = self.interval
        table.attrs["simulations"] = self.simulations
        return table

    def horizons(self) -> pd.DataFrame:
        """Each resource over the planning bands (the YAML's ``horizons``).

        Bands that reach beyond the forecast's years are left out (simulate 10 years for
        the 5-10-year band).

        Returns
        -------
        pandas.DataFrame
            One row per resource and band: ``resource``, ``label``, ``unit``, ``horizon``,
            ``first_year``, ``last_year``, ``mean_per_year`` (the mean over simulations of
            the average over the band's years), ``peak_mean``, ``peak_low``, ``peak_high``
            (of each simulation's largest year in the band: what capacity must cover; the
            interval as in :meth:`per_year`) and ``stated`` (``Int64``): how many current
            projects named the resource's support need for this horizon in the survey
            (for patients, bed-days and beds: hospital capacity), ``<NA>`` for a band that
            is not a survey answer. ``stated`` counts the answers as given, without the
            resource's platform or manufacturer filter.
        """
        q = self._quantiles()
        rows = []
        for name, x in self.values.items():
            for band, (first, last) in self.assumptions.horizons.items():
                if last > self.years:
                    continue
                window = x[:, first - 1 : last]
                peak = window.max(axis=1)
                peak_band = np.quantile(peak, q, method="inverted_cdf")
                stated = self.stated.get(name, {}).get(band)
                rows.append(
                    {
                        "resource": name,
                        "label": self.labels[name],
                        "unit": self.units[name],
                        "horizon": band,
                        "first_year": first,
                        "last_year": last,
                        "mean_per_year": float(window.mean()),
                        "peak_mean": float(peak.mean()),
                        "peak_low": float(peak_band[0]),
                        "peak_high": float(peak_band[1]),
                        "stated": pd.NA if stated is None else stated,
                    }
                )
        columns = [
            "resource",
            "label",
            "unit",
            "horizon",
            "first_year",
            "last_year",
            "mean_per_year",
            "peak_mean",
            "peak_low",
            "peak_high",
            "stated",
        ]
        table = pd.DataFrame(rows, columns=columns)
        for column in ("resource", "label", "unit", "horizon"):
            table[column] = table[column].astype("string")
        for column in ("first_year", "last_year"):
            table[column] = table[column].astype("int64")
        table["stated"] = pd.array(table["stated"], dtype="Int64")
        table.attrs["interval"] = self.interval
        table.attrs["simulations"] = self.simulations
        return table


def _stream(seed: int, name: str) -> np.random.Generator:
    """A random stream of its own for each parameter: changing one leaves the others."""
    return np.random.default_rng([_STREAM_TAG, seed, zlib.crc32(name.encode())])


def _stated(
    projects_now: pd.DataFrame, need: str, bands: Mapping[str, tuple[int, int]]
) -> dict[str, int]:
    """Band -> current projects that named ``need`` with that support horizon."""
    if "support_needs" not in projects_now or "support_horizon" not in projects_now:
        return {}
    named = _any_of(projects_now["support_needs"], (need,))
    horizon = projects_now["support_horizon"].astype("string").str.strip()
    return {
        band: int((named & (horizon == band).fillna(False).to_numpy(dtype=bool)).sum())
        for band in bands
        if band in SURVEY_HORIZONS
    }


def demand(
    projects_now: pd.DataFrame,
    forecast: Forecast,
    assumptions: DemandAssumptions | None = None,
    *,
    seed: int | None = None,
) -> Demand:
    """The demand of a centre's projects on its infrastructure over the forecast's years.

    Parameters
    ----------
    projects_now
        The wave the forecast was made from, one row per project: ``project_id``, and as
        the assumptions use them ``platforms`` (``;``-joined), ``support_needs``
        (``;``-joined labels), ``support_horizon`` and ``manufacturer`` (the instrument's
        code or label; a missing value or column counts as "Not answered"). Projects the forecast
        left out (no stage) count only in ``stated``.
    forecast
        :func:`atmp_analysis.forecast.simulate` with ``keep_states=True``.
    assumptions
        Default: the shipped ones (:func:`load_demand_assumptions`).
    seed
        Of the draws of patients per project-year and inpatient days (default: the
        forecast's seed).

    Returns
    -------
    Demand

    Raises
    ------
    ValueError
        The forecast did not keep its states, ``projects_now`` lacks a project of the
        forecast or a column the assumptions need, a project appears twice, or a
        manufacturer is neither a code nor a label of the instrument.

    Examples
    --------
    >>> from atmp_analysis.forecast import load_assumptions, simulate
    >>> now = pd.DataFrame(
    ...     {
    ...         "project_id": ["a", "b"],
    ...         "wave": 2024,
    ...         "stage_code": [7, 5],
    ...         "platforms": ["T cell;lentiviral", "AAV"],
    ...         "support_needs": ["GMP manufacturing", "Regulatory strategy and advice"],
    ...         "support_horizon": ["1-2 years", "3-5 years"],
    ...         "manufacturer": [2, 3],  # hospital GMP unit; a CDMO
    ...     }
    ... )
    >>> f = simulate(now, load_assumptions(), years=3, simulations=200, seed=1, keep_states=True)
    >>> d = demand(now, f)
    >>> d.eligible["viral_vector"].tolist(), d.eligible["regulatory_support"].tolist()
    ([True, False], [False, True])
    >>> d.horizons()["horizon"].unique().tolist()  # 3-5 years reaches beyond year 3
    ['1-2 years']
    """
    if not isinstance(forecast, Forecast):
        raise TypeError(f"forecast: expected a Forecast, not {type(forecast).__name__}")
    if forecast.states is None or forecast.project_ids is None:
        raise ValueError(
            "forecast: the states of the projects were not kept; make the forecast with "
            "simulate(..., keep_states=True)"
        )
    assumptions = assumptions if assumptions is not None else load_demand_assumptions()
    seed = forecast.seed if seed is None else seed
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a whole number of at least 0, not {seed!r}")
    states = forecast.states  # (years, simulations, projects)
    n_years, n_sims, n_proj = states.shape
    if n_proj != len(forecast.project_ids):
        raise ValueError("forecast: states and project_ids do not match")
    projects = _aligned(projects_now, forecast.project_ids)
    makers = _manufacturer_labels(projects.get("manufacturer"), n_proj)

    values: dict[str, np.ndarray] = {}
    labels: dict[str, str] = {}
    units: dict[str, str] = {}
    eligible: dict[str, np.ndarray] = {}
    stated: dict[str, dict[str, int]] = {}
    for r in assumptions.resources:  # a handful of resources; each is vectorised
        mask = np.ones(n_proj, dtype=bool)
        if r.projects == "stated":
            needs = _column(projects, "support_needs", f"{r.name} (projects: stated)")
            mask &= _any_of(needs, (r.need,))
        if r.platforms is not None:
            mask &= _any_of(_column(projects, "platforms", f"{r.name}'s platforms"), r.platforms)
        if r.manufacturers is not None:
            mask &= makers.isin([m.casefold() for m in r.manufacturers]).to_numpy(dtype=bool)
        needs_it = np.isin(np.arange(len(ALL_STATES)), [ALL_STATES.index(s) for s in r.states])
        count = needs_it[states[:, :, mask]].sum(axis=2, dtype=np.int32)  # (years, sims)
        values[r.name] = np.ascontiguousarray(count.T)
        labels[r.name] = r.label
        units[r.name] = "projects"
        eligible[r.name] = mask
        stated[r.name] = _stated(projects_now, r.need, assumptions.horizons)

    # patients: per simulation a rate per trial state; per product group the days per patient
    rates = {
        state: t.draw(_stream(seed, f"patients.{state}"), n_sims)
        for state, t in assumptions.patients.items()
    }
    group = np.full(n_proj, len(assumptions.stays) - 1, dtype=np.intp)
    if len(assumptions.stays) > 1:
        platforms = _column(projects, "platforms", "beds.days_per_patient")
        for g in range(len(assumptions.stays) - 2, -1, -1):  # the first listed group wins
            group[_any_of(platforms, assumptions.stays[g].platforms)] = g
    patients = np.zeros((n_sims, n_years))
    bed_days = np.zeros((n_sims, n_years))
    for g, stay in enumerate(assumptions.stays):
        days = stay.days.draw(_stream(seed, f"days.{stay.name}"), n_sims)
        in_group = states[:, :, group == g]
        treated = np.zeros((n_sims, n_years))
        for state, rate in rates.items():
            n = (in_group == ALL_STATES.index(state)).sum(axis=2, dtype=np.int32).T
            treated += n * rate[:, None]
        patients += treated
        bed_days += treated * days[:, None]
    hospital = {
        "patients": patients,
        "bed_days": bed_days,
        "beds": bed_days / DAYS_PER_YEAR / assumptions.occupancy,
    }
    hospital_labels = {
        "patients": "Patients treated in trials",
        "bed_days": "Inpatient bed-days",
        "beds": f"Beds at {assumptions.occupancy:.0%} occupancy",
    }
    hospital_stated = _stated(projects_now, assumptions.patients_need, assumptions.horizons)
    for name, x in hospital.items():
        values[name] = x
        labels[name] = hospital_labels[name]
        units[name] = HOSPITAL[name]
        stated[name] = hospital_stated

    return Demand(
        values=MappingProxyType(values),
        labels=MappingProxyType(labels),
        units=MappingProxyType(units),
        eligible=MappingProxyType(eligible),
        stated=MappingProxyType({k: MappingProxyType(v) for k, v in stated.items()}),
        project_ids=np.asarray(forecast.project_ids),
        years=n_years,
        simulations=n_sims,
        seed=int(seed),
        interval=forecast.interval,
        base_year=forecast.base_year,
        assumptions=assumptions,
    )
