"""The ``companion`` command line: parse arguments, call the layers, print.

Each subcommand lives in ``companion/commands/<name>.py`` and exposes
``register(subparsers) -> None`` (adds its parser and sets ``func``) and a
``run(args) -> int``. The CLI turns :class:`~companion.errors.CompanionError` into one line
on stderr and its exit code, so no user-caused failure ever shows a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from typing import NoReturn

from companion import __version__
from companion.errors import CompanionError

# Subcommand modules, in the order ``companion --help`` lists them.
COMMANDS: tuple[str, ...] = (
    "live",
    "replay",
    "score",
    "simulate",
    "record",
    "scan",
    "import_",
    "inspect",
    "export",
    "describe",
)


class OneLineArgumentParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (what, and where to look) + exit 2.

    argparse's default prints the whole usage block before the error; a user who mistyped one
    option then has to find the one line that matters. Help (``-h``) is unchanged.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message}; see `{self.prog} --help`\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineArgumentParser(
        prog="companion",
        description=(
            "Coach calf raises, tibialis raises and calf stretches from two IMUs "
            "(shin + foot): live window, replay, scoring, simulation, import."
        ),
    )
    parser.add_argument("--version", action="version", version=f"companion {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"companion.commands.{name}")
        except ModuleNotFoundError as exc:  # a command not built yet
            if exc.name != f"companion.commands.{name}":
                raise
            continue
        module.register(sub)
    # ``companion inspect -v FILE`` as well as ``companion -v inspect FILE``.
    for subparser in sub.choices.values():
        try:
            subparser.add_argument(
                "-v",
                "--verbose",
                action="store_true",
                default=argparse.SUPPRESS,
                help="log debug messages",
            )
        except argparse.ArgumentError:  # the subcommand uses -v itself
            pass
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        # Loading the subcommands imports numpy/pyarrow (most of a second): Ctrl-C here is
        # the user's too, and gets the same one line as during the work.
        parser = build_parser()
    except KeyboardInterrupt:
        print("companion: interrupted.", file=sys.stderr)
        return 130
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CompanionError as exc:
        print(f"companion {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"companion {args.command}: interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader (``| head``) went away: stop quietly, and keep Python's final flush of
        # stdout from printing "Exception ignored ... BrokenPipeError".
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
