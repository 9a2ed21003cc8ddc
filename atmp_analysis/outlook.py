"""The progress-and-outlook analysis of one survey wave: the forecast made from the data.

:func:`forecast_of` turns ``projects.csv`` (every wave) into the forecast of one wave: the
projects of that wave move on from their stages, with the prior of the forecast's
assumptions updated by the transitions observed between the waves up to it. It is the one
place the report, the notebooks and the calibration test make the forecast, so they agree.

    >>> from atmp_analysis.report import load_report_data             # doctest: +SKIP
    >>> result = forecast_of(load_report_data().projects, years=5)    # doctest: +SKIP
    >>> result.forecast.summary().query("year == 5")                  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from atmp_analysis import forecast as fc

__all__ = ["Outlook", "forecast_of"]


@dataclass(frozen=True)
class Outlook:
    """A wave's forecast and what it was made from.

    Attributes
    ----------
    wave
        The survey year forecast from.
    projects
        That wave's projects (the rows of ``projects.csv``).
    transitions
        :func:`atmp_analysis.forecast.observed_transitions` of the waves up to ``wave``.
    assumptions
        The prior (:func:`atmp_analysis.forecast.load_assumptions`).
    forecast
        The simulated events (:class:`atmp_analysis.forecast.Forecast`).
    """

    wave: int
    projects: pd.DataFrame
    transitions: pd.DataFrame
    assumptions: fc.Assumptions
    forecast: fc.Forecast

    @property
    def observed(self) -> pd.DataFrame:
        """The observed transitions that update the prior (outcome known), per state:
        ``state``, ``stay``, ``advance``, ``stop`` (project-years counted)."""
        counted = self.transitions.dropna(subset=["counted_as"])
        table = pd.crosstab(counted["state_from"], counted["counted_as"])
        table = table.reindex(index=list(fc.STATES), columns=["stay", "advance", "stop"])
        table = table.fillna(0).astype("int64")
        table.index.name = "state"
        return table.reset_index()


def forecast_of(
    projects: pd.DataFrame,
    *,
    wave: int | None = None,
    assumptions: fc.Assumptions | None = None,
    years: int | None = None,
    simulations: int | None = None,
    seed: int | None = None,
    keep_states: bool = False,
) -> Outlook:
    """Forecast the projects of ``wave`` (default: the latest) from every wave up to it.

    Parameters
    ----------
    projects
        ``projects.csv`` of one or more waves (``project_id``, ``wave``, ``stage_code``,
        ``rare_disease``, ``atmp_class``, ``platforms``).
    wave
        The survey year to forecast from; later waves are not used.
    assumptions
        Default: the shipped, cited ones.
    years, simulations, seed
        Default: the assumptions' ``horizon_years``, ``simulations`` and ``seed``.
    keep_states
        Keep each simulated project's state per year (for the demand on the
        infrastructure, :mod:`atmp_analysis.demand`).
    """
    assumptions = assumptions or fc.load_assumptions()
    waves = sorted(int(w) for w in projects["wave"].dropna().unique())
    if not waves:
        raise ValueError("projects: no survey wave holds a project")
    wave = waves[-1] if wave is None else int(wave)
    if wave not in waves:
        raise ValueError(f"wave {wave} is not in the data (waves: {waves})")
    upto = projects[projects["wave"].astype("int64") <= wave]
    transitions = fc.observed_transitions(upto, assumptions)
    now = upto[upto["wave"].astype("int64") == wave]
    result = fc.simulate(
        now,
        assumptions,
        transitions=transitions,
        years=years,
        simulations=simulations,
        seed=seed,
        base_year=wave,
        keep_states=keep_states,
    )
    return Outlook(wave, now, transitions, assumptions, result)
