"""The layering holds at run time too: importing a pure layer loads no Qt, bleak or asyncio.

import-linter (run by .ci/run) checks the import graph statically; this checks what a fresh
interpreter actually loads, which also catches a dependency that drags Qt in.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import importlib, json, sys
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in
      {'PySide6', 'pyqtgraph', 'qasync', 'bleak', 'asyncio', 'matplotlib'})))
"""

NOT_QT = ["PySide6", "pyqtgraph", "qasync"]


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        ("companion.model", [*NOT_QT, "bleak", "asyncio", "matplotlib"]),
        ("companion.analysis", [*NOT_QT, "bleak", "asyncio", "matplotlib"]),
        ("firmware_protocol", [*NOT_QT, "bleak", "asyncio", "matplotlib"]),
        ("companion.storage", [*NOT_QT, "bleak"]),
        ("companion.sim", [*NOT_QT, "bleak"]),
        ("companion.scoring", [*NOT_QT, "bleak"]),
        ("companion.importers", [*NOT_QT, "bleak"]),
        ("companion.sources", NOT_QT),
        ("companion.cli", NOT_QT),
    ],
)
def test_pure_layers_load_nothing_forbidden(module: str, forbidden: list[str]) -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, module], capture_output=True, text=True, check=True
    ).stdout
    loaded = {m.split(".")[0] for m in json.loads(out)}
    assert not (loaded & set(forbidden)), f"{module} loads {sorted(loaded & set(forbidden))}"
