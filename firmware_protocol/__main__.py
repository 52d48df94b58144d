"""``python -m firmware_protocol describe``: the supported families, UUIDs, rates, streams."""

from __future__ import annotations

import argparse
import sys

from firmware_protocol import FAMILIES
from firmware_protocol._describe import describe


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m firmware_protocol")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("describe", help="print the supported sensor families")
    p.add_argument("family", nargs="?", choices=sorted(FAMILIES), help="only this family")
    args = parser.parse_args(argv)
    fams = FAMILIES if args.family is None else {args.family: FAMILIES[args.family]}
    sys.stdout.write(describe(fams))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
