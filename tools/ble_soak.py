"""The issue-4 acceptance run: 10 minutes per family through the emulated radio.

For every sensor family: a simulated 10-minute session (virtual time, so it takes seconds to
a minute of wall time) with 2 % dropped notifications, 1 % duplicates and a disconnect every
60 s, checked against the emulator's ground truth: every delivered sample exactly once, every
drop a marked gap at the right time, reconnect within 5 s of the sensor returning, no
exception, both sensors on one clock within one sample period. Exit status 1 if any check
fails (for every family alike).

    .venv/bin/python tools/ble_soak.py [--minutes 10] [--faults ...] [FAMILY ...]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import firmware_protocol as fp
from tests.sources.emulated_session import check_sensor, failed_states, run_session


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("families", nargs="*", default=list(fp.FAMILIES), help="default: every family")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--faults", default="drop=0.02,dup=0.01,disconnect_every=60")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    ok_all = True
    for fam in args.families:
        w = time.monotonic()
        run = run_session(fam, duration_s=60.0 * args.minutes, faults=args.faults, seed=args.seed)
        wall = time.monotonic() - w
        fails = failed_states(run)
        time_src = "device time" if fp.FAMILIES[fam].has_device_time else "arrival times"
        print(
            f"== {fam} ({run.source.sensors[0].sampling_rate_hz:g} Hz, {time_src}): "
            f"{args.minutes:g} min session, {args.faults}; {wall:.1f} s wall"
        )
        checks = [check_sensor(run, sid) for sid in ("shin_left", "foot_left")]
        for c in checks:
            # every delivered sample exactly once, in order, same values (those still in
            # flight when the session is closed, at most 0.3 s, are not in the recording)
            exact = c.matched and 0 <= c.delivered - c.recorded <= 0.3 / c.period_s
            ok = (
                exact
                # every drop a gap at the right time with the right size (across a
                # disconnect the size comes from host time: ±1 sample)
                and c.gap_mismatches == []
                and c.gaps_found == c.gaps_expected
                and max(c.reconnect_delays_s, default=0.0) < 5.0
                and len(c.reconnect_delays_s) >= int(args.minutes) - 1
                and c.time_err_spread_s < c.period_s
            )
            ok_all &= ok
            print(
                f"  {c.sensor_id:<10} delivered {c.delivered:6d}  recorded {c.recorded:6d}  "
                f"same samples in order: {'yes' if exact else 'NO'}  "
                f"gaps {c.gaps_found}/{c.gaps_expected} (missing {c.missing_reported}/"
                f"{c.missing_expected}, {len(c.gap_mismatches)} misplaced)  "
                f"reconnects {len(c.reconnect_delays_s)} "
                f"max {max(c.reconnect_delays_s, default=0):.2f} s  "
                f"time error {1000 * c.time_err_median_s:.2f} ms "
                f"± {1000 * c.time_err_spread_s / 2:.2f} ms "
                f"(period {1000 * c.period_s:.1f} ms)  {'OK' if ok else 'FAIL'}"
            )
            for m in c.gap_mismatches[:3]:
                print(f"      {m}")
        agree = abs(checks[0].time_err_median_s - checks[1].time_err_median_s)
        print(f"  clocks agree within {1000 * agree:.2f} ms; failed states: {len(fails)}")
        ok_all &= agree < checks[0].period_s and not fails
    return 0 if ok_all else 1


if __name__ == "__main__":
    raise SystemExit(main())
