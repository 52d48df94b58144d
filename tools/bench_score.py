#!/usr/bin/env python3
"""Benchmark ``companion score``: one long session, then many files in parallel.

    .venv/bin/python tools/bench_score.py [--duration-s 3600] [--files 20] [--jobs 0]
                                          [--repeat 3] [--feed-s 600] [--feed-rate-hz 200]

1. Simulates a two-sensor 100 Hz session of ``--duration-s`` (the built-in ``calf-raises``
   scenario repeated) and times each stage of scoring it: the motion analysis (both
   sensors, the streaming engine; best of ``--repeat`` runs), the scoring proper
   (``score_session`` given the analysis), the renderers and the PNG.
2. Writes the session once and links it ``--files`` times into a temporary folder, then
   scores the folder with ``score_many`` (what ``companion score DIR`` runs:
   ``ProcessPoolExecutor``, spawn) and
   reports wall time, the CPU time used by the workers, and the implied number of busy
   cores (CPU time / wall time).

3. The live window's view of the same engine: a ``--feed-s`` session of two sensors at
   ``--feed-rate-hz`` cut into 20 ms chunks (one notification's worth per sensor, shin and
   foot alternating) fed to ``SessionAnalyzer.feed`` plus ``frames_since_last`` (what the
   window calls per chunk, on its GUI thread); prints the per-call latency distribution
   (p50 / p99 / p99.9 / max, wall and CPU time) and the slowest calls.

Nothing is written into the repository; the temporary folder is removed at the end.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path


def _cpu_children_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _burn(seconds: float) -> float:
    t0 = time.process_time()
    while time.process_time() - t0 < seconds:
        pass
    return seconds


def _capacity() -> float:
    """CPU seconds two spawned busy processes get per wall second (2.0 on an idle 2-core box;
    less when the machine is shared)."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_burn, [0.1, 0.1])  # start-up out of the measurement
        t0 = time.perf_counter()
        pool.map(_burn, [2.0, 2.0])
        return 4.0 / (time.perf_counter() - t0)


def feed_latency(duration_s: float, rate_hz: float, scenario: str) -> None:
    """Per-``feed()`` latency of the streaming engine for 20 ms chunks (issue 7's budget)."""
    import numpy as np

    from companion.analysis import SessionAnalyzer
    from companion.scoring import load_builtin_preset
    from companion.scoring.score import exercise_hint
    from companion.sim import simulate

    session = simulate(scenario, seed=2, duration_s=duration_s, sampling_rate_hz=rate_hz)
    hint = exercise_hint(load_builtin_preset("seed"))
    an = SessionAnalyzer(side="left", exercise_hint=hint, sampling_rate_hz=rate_hz)
    shin, foot = session.chunks["shin_left"], session.chunks["foot_left"]
    step = max(1, round(0.020 * rate_hz))
    wall: list[float] = []
    cpu: list[float] = []
    at: list[float] = []
    n_events = 0
    for k in range(0, max(len(shin), len(foot)), step):
        for c in (shin, foot):
            part = c.slice(k, k + step)
            if len(part) == 0:
                continue
            w0, c0 = time.perf_counter(), time.process_time()
            n_events += len(an.feed(part))
            an.frames_since_last()
            cpu.append(time.process_time() - c0)
            wall.append(time.perf_counter() - w0)
            at.append(float(part.t_s[-1]))
    an.finish()
    w = np.array(wall) * 1e3
    c = np.array(cpu) * 1e3
    print(
        f"live feed: {duration_s:.0f} s {scenario!r}, 2 sensors at {rate_hz:.0f} Hz, "
        f"{len(w)} feed() calls of {step} samples ({step / rate_hz * 1e3:.0f} ms), "
        f"{n_events} events, hint {hint!r}"
    )
    for name, x in (("wall", w), ("CPU", c)):
        print(
            f"  per call ({name}, ms): p50 {np.percentile(x, 50):.3f}  p99 "
            f"{np.percentile(x, 99):.3f}  p99.9 {np.percentile(x, 99.9):.2f}  max {x.max():.2f}"
        )
    slow = np.argsort(-c)[:5]
    print(
        "  slowest calls (CPU ms @ session s): "
        + ", ".join(f"{c[i]:.1f} @ {at[i]:.1f}" for i in slow)
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--duration-s", type=float, default=3600.0)
    ap.add_argument("--files", type=int, default=20)
    ap.add_argument("--jobs", type=int, default=0, help="workers (0 = all cores)")
    ap.add_argument("--scenario", default="calf-raises")
    ap.add_argument("--repeat", type=int, default=3, help="analysis runs (best of N)")
    ap.add_argument("--feed-s", type=float, default=600.0, help="live feed session, s (0 = skip)")
    ap.add_argument("--feed-rate-hz", type=float, default=200.0)
    args = ap.parse_args()

    from companion.commands import score as score_cmd
    from companion.scoring import load_builtin_preset
    from companion.scoring.plot import render_png
    from companion.scoring.report import render_csv, render_json, render_table
    from companion.scoring.score import analyze_sides, score_session
    from companion.sim import simulate
    from companion.storage import write_session

    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}")
    print(f"CPU available to us right now (two busy processes): {_capacity():.2f} cores")
    t0 = time.perf_counter()
    session = simulate(args.scenario, seed=1, duration_s=args.duration_s)
    n = sum(len(c) for c in session.chunks.values())
    print(
        f"simulated {args.scenario!r}: {session.duration_s:.0f} s, {len(session.sensors)} sensors, "
        f"{n} samples in {time.perf_counter() - t0:.1f} s"
    )
    plan = load_builtin_preset("seed")

    walls, cpus = [], []
    for _ in range(max(1, args.repeat)):
        t0, c0 = time.perf_counter(), time.process_time()
        per_side = analyze_sides(session, plan)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    # Best of N: the shared machine only ever makes a run slower.
    t_analysis, c_analysis = min(walls), min(cpus)
    t0, c0 = time.perf_counter(), time.process_time()
    doc = score_session(session, plan, analysis=per_side, file="bench.calf")
    t_score, c_score = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    render_table(doc), render_json(doc), render_csv(doc)
    t_render = time.perf_counter() - t0
    tmp = Path(tempfile.mkdtemp(prefix="bench-score-"))
    try:
        t0 = time.perf_counter()
        side = next(iter(per_side))
        render_png(doc, tmp / "bench.png", channels=per_side[side].channels, side=side)
        t_png = time.perf_counter() - t0
        print(
            f"one {session.duration_s / 3600:.2f} h session "
            f"({doc['summary']['reps_done']} reps scored):"
        )
        print(
            f"  analysis (orientation, angles, reps)  {t_analysis:7.2f} s  "
            f"(CPU {c_analysis:.2f} s; best of {len(walls)}, "
            f"CPU median {sorted(cpus)[len(cpus) // 2]:.2f} s)"
        )
        print(f"  scoring (score_session given analysis) {t_score:7.3f} s  (CPU {c_score:.3f} s)")
        print(f"  table + JSON + CSV                     {t_render:7.3f} s")
        print(f"  PNG                                    {t_png:7.2f} s")
        total = t_analysis + t_score + t_render + t_png
        print(f"  total                                  {total:7.2f} s")
        print(
            f"  analysis + scoring: {t_analysis + t_score:.2f} s wall, "
            f"{c_analysis + c_score:.2f} s CPU (issue 6 target: under 2 s)"
        )

        if args.feed_s > 0:
            feed_latency(args.feed_s, args.feed_rate_hz, args.scenario)
        if args.files <= 0:
            return 0
        src = tmp / "src.calf"
        t0 = time.perf_counter()
        write_session(src, session)
        folder = tmp / "many"
        folder.mkdir()
        for i in range(args.files):
            os.link(src, folder / f"session-{i:02d}.calf")
        print(
            f"wrote the session ({src.stat().st_size / 1e6:.0f} MB) in "
            f"{time.perf_counter() - t0:.1f} s and linked it {args.files} times"
        )
        jobs_in = [[str(p)] for p in sorted(folder.glob("*.calf"))]
        cpu0 = _cpu_children_s()
        t0 = time.perf_counter()
        results = score_cmd.score_many(jobs_in, "seed", jobs=args.jobs)
        wall = time.perf_counter() - t0
        cpu = _cpu_children_s() - cpu0
        ok = sum(r.ok for r in results)
        code = 0 if ok == len(results) else 1
        workers = args.jobs or os.cpu_count()
        pids = {r.worker_pid for r in results if r.ok}
        print(f"distinct worker processes that scored files: {len(pids)}")
        print(
            f"{args.files} files, {workers} workers: exit {code}, {ok}/{args.files} scored, "
            f"wall {wall:.1f} s ({wall / args.files:.2f} s per file), worker CPU {cpu:.1f} s, "
            f"busy cores ≈ {cpu / wall:.2f}"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
