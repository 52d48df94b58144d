"""User-facing BLE failures: one sentence each (what, where, what to do next), exit code 2."""

from __future__ import annotations

from companion.errors import SensorError

__all__ = [
    "BluetoothUnavailableError",
    "SensorLostError",
    "SensorNotFoundError",
    "WrongFamilyError",
]


class BluetoothUnavailableError(SensorError):
    """No adapter, no BlueZ, no D-Bus, Bluetooth switched off, or no permission."""

    def __init__(self, message: str, *, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


class SensorNotFoundError(SensorError):
    """A sensor given by address did not advertise within the scan time."""

    def __init__(self, message: str, *, address: str) -> None:
        super().__init__(message)
        self.address = address


class WrongFamilyError(SensorError):
    """The device at an address is not of the expected (or any supported) family."""

    def __init__(self, message: str, *, address: str, family: str | None) -> None:
        super().__init__(message)
        self.address = address
        self.family = family


class SensorLostError(SensorError):
    """Every sensor of the session dropped out and did not come back in time."""
