"""Sensor wire protocols: bytes in, packets out, packets back to bytes.

Pure package (standard library + numpy): no bleak, no asyncio, no Qt, no clock, nothing from
``companion``. One module per sensor family plus the project's own open protocol (``SPEC.md``).

The BLE layer works from :data:`FAMILIES`: each :class:`Family` tells how to recognise a device,
which characteristics to subscribe to, which commands to write, and makes a per-connection
:class:`StreamDecoder` (notifications → :class:`Samples` / :class:`BytesDropped` /
:class:`SequenceGap` / :class:`Reply` events) and a :class:`DeviceEncoder` (samples → the exact
notifications the device would send; drives emulated sensors).
"""

from __future__ import annotations

import logging

from firmware_protocol import calf, dot, metamotion, movesense, polar, thingy, witmotion
from firmware_protocol._common import (
    GRAVITY_M_S2,
    BytesDropped,
    DecoderStats,
    DeviceEncoder,
    Event,
    Family,
    Reply,
    Samples,
    SequenceGap,
    StreamDecoder,
    sig_uuid,
)
from firmware_protocol.errors import (
    MalformedPacketError,
    ProtocolError,
    TruncatedPacketError,
    UnsupportedSettingError,
    UnsupportedVersionError,
)

logging.getLogger(__name__).addHandler(logging.NullHandler())

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        witmotion.FAMILY,
        movesense.FAMILY,
        metamotion.FAMILY,
        dot.FAMILY,
        calf.FAMILY,
        thingy.FAMILY,
        polar.FAMILY,
    )
}
"""Supported families by name: ``witmotion``, ``movesense``, ``metamotion``, ``dot``, ``calf``
(the project's own protocol), ``thingy52`` (Nordic Thingy:52) and ``polar`` (Polar Verity
Sense, PMD)."""


def identify_family(
    name: str | None,
    service_uuids: list[str],
    manufacturer_data: dict[int, bytes],
) -> Family | None:
    """The first family whose :meth:`Family.matches` accepts the advertisement, or None."""
    for fam in FAMILIES.values():
        if fam.matches(name, service_uuids, manufacturer_data):
            return fam
    return None


__all__ = [
    "FAMILIES",
    "GRAVITY_M_S2",
    "BytesDropped",
    "DecoderStats",
    "DeviceEncoder",
    "Event",
    "Family",
    "MalformedPacketError",
    "ProtocolError",
    "Reply",
    "Samples",
    "SequenceGap",
    "StreamDecoder",
    "TruncatedPacketError",
    "UnsupportedSettingError",
    "UnsupportedVersionError",
    "calf",
    "dot",
    "identify_family",
    "metamotion",
    "movesense",
    "polar",
    "sig_uuid",
    "thingy",
    "witmotion",
]
