"""Errors of the wire-protocol package.

One root, :class:`ProtocolError`; every subclass carries *where* and *what* as attributes so
callers branch on data, never on message text. One-shot ``decode_*`` functions raise these;
streaming decoders never raise on bad bytes (they drop, count and report events instead).
"""

from __future__ import annotations

__all__ = [
    "MalformedPacketError",
    "ProtocolError",
    "TruncatedPacketError",
    "UnsupportedSettingError",
    "UnsupportedVersionError",
]


class ProtocolError(ValueError):
    """Root of the package's errors: bytes that are not a valid packet, or a bad argument."""


class TruncatedPacketError(ProtocolError, EOFError):
    """A packet is shorter than its layout needs."""

    def __init__(self, needed: int, available: int, *, what: str = "packet") -> None:
        self.needed = int(needed)
        self.available = int(available)
        self.bytes_needed = self.needed
        self.bytes_available = self.available
        self.what = what
        super().__init__(
            f"{what} is truncated: it needs {self.needed} bytes but only {self.available} "
            "arrived; feed the whole notification or use the streaming decoder."
        )


class MalformedPacketError(ProtocolError):
    """A field holds a value the layout does not allow."""

    def __init__(self, offset: int, expected: str, actual: object, *, what: str = "packet") -> None:
        self.offset = int(offset)
        self.expected = expected
        self.actual = actual
        self.what = what
        shown = (
            f"0x{actual:02X}"
            if isinstance(actual, int) and not isinstance(actual, bool)
            else repr(actual)
        )
        super().__init__(
            f"{what} is malformed at byte {self.offset}: expected {expected}, got {shown}; "
            "check that the bytes come from the right characteristic and device family."
        )


class UnsupportedVersionError(ProtocolError):
    """A packet declares a protocol version this decoder does not speak."""

    def __init__(
        self, version: int, *, supported: tuple[int, ...] = (), what: str = "packet"
    ) -> None:
        self.version = int(version)
        self.supported = tuple(supported)
        self.what = what
        sup = ", ".join(str(v) for v in self.supported) or "none"
        super().__init__(
            f"{what} declares protocol version {self.version}, which this decoder does not "
            f"support (supported: {sup}); update the companion or the sensor firmware."
        )


class UnsupportedSettingError(ProtocolError):
    """A command asks for a rate or range the device family cannot do."""

    def __init__(
        self, setting: str, value: object, allowed: tuple[object, ...], *, family: str
    ) -> None:
        self.setting = setting
        self.value = value
        self.allowed = tuple(allowed)
        self.family = family
        ok = ", ".join(str(a) for a in self.allowed)
        super().__init__(f"{family} cannot use {setting} {value}: choose one of {ok}.")
