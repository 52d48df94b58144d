"""Which bleak backend classes a BLE source uses (the OS radio, or an emulated one)."""

from __future__ import annotations

from dataclasses import dataclass

from bleak.backends.client import BaseBleakClient
from bleak.backends.scanner import BaseBleakScanner

__all__ = ["BleBackend"]


@dataclass(frozen=True, slots=True, kw_only=True)
class BleBackend:
    """The pair of classes passed as ``backend=`` to ``BleakScanner`` and ``BleakClient``.

    ``None`` fields mean bleak's own choice for this platform (BlueZ, CoreBluetooth, WinRT).
    """

    scanner: type[BaseBleakScanner] | None = None
    client: type[BaseBleakClient] | None = None
