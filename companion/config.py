"""The per-user configuration folder: sensors remembered by BLE address.

Where: ``$XDG_CONFIG_HOME/calf-companion/`` (``~/.config/calf-companion/`` when the variable is
unset; tests point ``XDG_CONFIG_HOME`` at a temporary folder). What: ``sensors.json``, the
placement (segment, side), family and name of every sensor the user has assigned, so that
``companion record --sensor ADDR`` and the window know where a sensor sits without asking
again::

    {"format": "calf-companion-sensors", "version": 1,
     "sensors": {"D4:22:CD:00:12:34": {"segment": "shin", "side": "left",
                                        "family": "dot", "name": "Movella DOT"}}}

Writes are atomic (temporary file, then rename), so a crash never leaves half a file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from companion.errors import UsageError
from companion.model import Placement

__all__ = [
    "ConfigError",
    "KnownSensor",
    "config_dir",
    "forget_sensor",
    "known_sensor",
    "load_known_sensors",
    "remember_sensors",
    "sensors_path",
]

APP_DIR = "calf-companion"
SENSORS_FILE = "sensors.json"
_FORMAT = "calf-companion-sensors"
_VERSION = 1


class ConfigError(UsageError):
    """The configuration folder or one of its files cannot be used."""


@dataclass(frozen=True, slots=True, kw_only=True)
class KnownSensor:
    """A sensor the user has placed before."""

    address: str
    placement: Placement
    family: str | None = None
    name: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "segment": self.placement.segment.value,
            "side": self.placement.side.value,
            "family": self.family,
            "name": self.name,
        }


def config_dir() -> Path:
    """``$XDG_CONFIG_HOME/calf-companion`` or ``~/.config/calf-companion`` (not created)."""
    base = os.environ.get("XDG_CONFIG_HOME", "").strip()
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".config"
    return root / APP_DIR


def sensors_path() -> Path:
    return config_dir() / SENSORS_FILE


def _key(address: str) -> str:
    return address.strip().upper()


def load_known_sensors(path: Path | None = None) -> dict[str, KnownSensor]:
    """Every remembered sensor by upper-case address (empty when the file does not exist)."""
    path = path or sensors_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        msg = f"{path}: cannot be read ({exc.strerror}); check its permissions"
        raise ConfigError(msg) from None
    try:
        doc = json.loads(text)
        if doc.get("format") != _FORMAT:
            raise ValueError("not a sensors file")
        out = {}
        for addr, d in dict(doc.get("sensors", {})).items():
            out[_key(addr)] = KnownSensor(
                address=str(addr),
                placement=Placement(segment=d["segment"], side=d["side"]),
                family=d.get("family") or None,
                name=str(d.get("name", "")),
            )
        return out
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        msg = (
            f"{path}: is not a valid sensors file ({exc}); fix or delete it and assign the "
            "sensors again"
        )
        raise ConfigError(msg) from None


def known_sensor(address: str, path: Path | None = None) -> KnownSensor | None:
    return load_known_sensors(path).get(_key(address))


def _write(sensors: dict[str, KnownSensor], path: Path) -> None:
    doc = {
        "format": _FORMAT,
        "version": _VERSION,
        "sensors": {
            s.address: s.to_dict() for s in sorted(sensors.values(), key=lambda s: s.address)
        },
    }
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        msg = f"{path}: cannot be written ({exc.strerror}); check the folder's permissions"
        raise ConfigError(msg) from None


def remember_sensors(sensors: Iterable[KnownSensor], path: Path | None = None) -> None:
    """Add or update sensors; a placement now taken by another address moves to this one."""
    path = path or sensors_path()
    known = load_known_sensors(path)
    for s in sensors:
        for k, other in list(known.items()):
            if other.placement == s.placement and k != _key(s.address):
                del known[k]
        known[_key(s.address)] = s
    _write(known, path)


def forget_sensor(address: str, path: Path | None = None) -> bool:
    path = path or sensors_path()
    known = load_known_sensors(path)
    if known.pop(_key(address), None) is None:
        return False
    _write(known, path)
    return True
