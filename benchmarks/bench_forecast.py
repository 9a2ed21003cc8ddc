"""Benchmark: the pipeline forecast (``atmp_analysis.forecast.simulate``) at scale.

    python benchmarks/bench_forecast.py                    # 1,000 projects, 10k sims, 5 and 10 y
    python benchmarks/bench_forecast.py --projects 100 1000 --years 10
    python benchmarks/bench_forecast.py --json             # also the raw JSON lines

The projects are synthetic and seeded: 1,000 by default, at stages drawn with the weights
of a young academic pipeline (mostly discovery to CTA-enabling, a few in the clinic), 40%
rare-disease, each with an ATMP class and one to three ``;``-joined platforms, so the
forecast also counts events per class and per platform, as the report would. Observed
transitions (a previous wave: a fifth of the projects a stage behind, 5% more projects
that are missing now) update the prior, so the posterior path is timed too.

Every measurement runs in a fresh process (``--one P S Y``, which prints one JSON line):

- ``simulate(projects, assumptions, transitions=..., years=Y, simulations=S)``, run
  ``--repeat`` times (default 3), the fastest kept; imports and data are not timed;
- the peak memory: ``ru_maxrss`` of that process (Python, numpy, pandas and the package
  included; their baseline before the run is printed beside it) and, in a separate run,
  the peak of ``tracemalloc`` (memory numpy and pandas allocated for the forecast alone;
  tracing slows the run, so it is not timed).

Target (the issue): the forecast runs in seconds for 1,000 projects and 10,000
simulations; here, at most 5 s for 10 years.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fresh

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TARGET_SECONDS = 5.0
STAGE_WEIGHTS = {1: 10, 2: 12, 3: 14, 4: 14, 5: 10, 6: 6, 7: 8, 8: 6, 9: 4, 10: 3, 11: 2}
CLASSES = ["GTMP", "sCTMP", "TEP", "cATMP"]
PLATFORMS = ["AAV", "lentiviral", "pluripotent stem cell", "T cell", "CRISPR", "MSC", "mRNA"]


def synthetic_projects(n: int, seed: int = 0):
    """``n`` projects of one wave (2024), and the previous wave (2023): the same projects
    a stage behind for a fifth of them, and another 5% that are missing in 2024. Seeded."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    total = n + n // 20
    stages = np.array(list(STAGE_WEIGHTS))
    weights = np.array(list(STAGE_WEIGHTS.values()), dtype=float)
    before = rng.choice(stages, total, p=weights / weights.sum())
    after = np.minimum(before + (rng.random(total) < 0.2), 11)  # a fifth advanced a stage
    # one to three platforms: every such combination once, then one per project
    combos = [";".join(c) for k in (1, 2, 3) for c in itertools.combinations(PLATFORMS, k)]
    common = {
        "project_id": [f"P{i:06d}" for i in range(total)],
        "rare_disease": rng.choice(["yes", "no"], total, p=[0.4, 0.6]),
        "atmp_class": rng.choice(CLASSES, total),
        "platforms": rng.choice(np.array(combos, dtype=object), total),
    }
    wave1 = pd.DataFrame({**common, "wave": 2023, "stage_code": pd.array(before, dtype="Int64")})
    wave2 = pd.DataFrame({**common, "wave": 2024, "stage_code": pd.array(after, dtype="Int64")})
    return wave1, wave2.iloc[:n].reset_index(drop=True)


def _peak_mib() -> float:
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 2**20


def measure_one(n_projects: int, simulations: int, years: int, repeat: int) -> dict:
    """One configuration in this (fresh) process; the result as a dict for one JSON line."""
    import gc
    import tracemalloc

    import numpy as np
    import pandas as pd

    from atmp_analysis import forecast as fc

    assumptions = fc.load_assumptions()
    wave1, wave2 = synthetic_projects(n_projects)
    transitions = fc.observed_transitions(pd.concat([wave1, wave2]), assumptions)
    fc.simulate(wave2.head(5), assumptions, simulations=10, years=1)  # warm up the code paths
    gc.collect()
    baseline = _peak_mib()
    runs = []
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        forecast = fc.simulate(
            wave2, assumptions, transitions=transitions, years=years, simulations=simulations
        )
        runs.append(time.perf_counter() - t)
    peak = _peak_mib()
    t = time.perf_counter()
    summaries = [forecast.summary(), *(forecast.summary(by=b) for b in forecast.groups)]
    summary_seconds = time.perf_counter() - t
    del forecast
    gc.collect()
    tracemalloc.start()
    fc.simulate(wave2, assumptions, transitions=transitions, years=years, simulations=simulations)
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    fih = summaries[0].query("event == 'fih' and year == @years")
    return {
        "projects": len(wave2),
        "simulations": simulations,
        "years": years,
        "seconds": min(runs),
        "runs": runs,
        "summary_seconds": summary_seconds,
        "peak_mib": peak,
        "baseline_mib": baseline,
        "traced_mib": traced / 2**20,
        "fih_cumulative_mean": float(fih["cumulative_mean"].iloc[0]),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "loadavg_1min": os.getloadavg()[0],
    }


def spawn(args: list[str]) -> dict:
    """Run this script in a fresh interpreter and return the JSON line it prints."""
    return fresh.spawn(__file__, args, cwd=ROOT)


def _git_state() -> str:
    return fresh.git_state(ROOT)


def report(results: list[dict], git_state: str) -> str:
    first = results[0]
    lines = [
        f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, Python "
        f"{sys.version.split()[0]}, numpy {first['numpy']}, pandas {first['pandas']}; "
        f"commit {git_state}",
        "",
        "| projects | simulations | years | seconds | project-years/s | peak MiB (baseline) "
        "| traced MiB | summary s | FIH by horizon (mean) | load |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        rate = r["projects"] * r["simulations"] * r["years"] / r["seconds"]
        lines.append(
            f"| {r['projects']:,} | {r['simulations']:,} | {r['years']} | {r['seconds']:.2f} "
            f"| {rate:,.0f} | {r['peak_mib']:,.0f} ({r['baseline_mib']:,.0f}) "
            f"| {r['traced_mib']:,.0f} | {r['summary_seconds']:.2f} "
            f"| {r['fih_cumulative_mean']:.1f} | {r['loadavg_1min']:.1f} |"
        )
    lines += [
        "",
        "seconds = fastest of the runs of simulate() (the posterior, the parameter draws, the "
        "yearly steps and the counts per ATMP class and platform); summary s = the total, "
        "per-class and per-platform summary tables; peak MiB = ru_maxrss of a fresh process "
        "(baseline: before the first timed run); traced MiB = tracemalloc's peak during one "
        "simulate().",
        "",
    ]
    for r in results:
        if r["projects"] >= 1000 and r["simulations"] >= 10_000:
            verdict = "met" if r["seconds"] <= TARGET_SECONDS else "MISSED"
            lines.append(
                f"- {r['projects']:,} projects x {r['simulations']:,} simulations x "
                f"{r['years']} years: {r['seconds']:.2f} s (target <= {TARGET_SECONDS:g} s): "
                f"{verdict}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--projects", type=int, nargs="+", default=[1000])
    parser.add_argument("--simulations", type=int, nargs="+", default=[10_000])
    parser.add_argument("--years", type=int, nargs="+", default=[5, 10])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs (fastest kept)")
    parser.add_argument("--one", type=int, nargs=3, metavar=("P", "S", "Y"), help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="also print the raw JSON lines")
    args = parser.parse_args(argv)

    if args.one is not None:
        print(json.dumps(measure_one(*args.one, repeat=args.repeat)))
        return

    git_state = _git_state()
    results = []
    for n in args.projects:
        for s in args.simulations:
            for y in args.years:
                print(f"[{n} projects, {s} sims, {y} y] …", file=sys.stderr, flush=True)
                result = spawn(["--one", str(n), str(s), str(y), "--repeat", str(args.repeat)])
                print(
                    f"[{n} projects, {s} sims, {y} y] {result['seconds']:.2f} s, "
                    f"peak {result['peak_mib']:.0f} MiB",
                    file=sys.stderr,
                    flush=True,
                )
                if args.json:
                    print(json.dumps(result))
                results.append(result)
    print(report(results, git_state))


if __name__ == "__main__":
    main()
