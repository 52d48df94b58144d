"""``companion describe``: the supported sensor families, their UUIDs, rates and streams.

Same text as ``python -m firmware_protocol describe``.
"""

from __future__ import annotations

import argparse
import sys

from firmware_protocol import FAMILIES
from firmware_protocol._describe import describe


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "describe",
        help="list the supported sensor families (UUIDs, rates, what they stream)",
        description="List the supported sensor families with their GATT UUIDs, rates and streams.",
    )
    p.add_argument("family", nargs="?", choices=sorted(FAMILIES), help="only this family")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    fam = getattr(args, "family", None)
    fams = FAMILIES if fam is None else {fam: FAMILIES[fam]}
    sys.stdout.write(describe(fams))
    return 0
