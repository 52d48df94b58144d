"""Text for ``python -m firmware_protocol describe`` and ``companion describe``."""

from __future__ import annotations

from firmware_protocol._common import Family


def _rate(r: float) -> str:
    return f"{r:g}"


def describe_family(fam: Family) -> str:
    lines = [
        f"{fam.name}: {fam.display_name}",
        f"  service          {fam.service_uuid}",
        f"  notify           {', '.join(fam.notify_char_uuids)}",
        f"  write            {fam.write_char_uuid}",
        f"  rates (Hz)       {', '.join(_rate(r) for r in fam.supported_rates_hz)}"
        f" (default {_rate(fam.default_rate_hz)})",
        f"  streams          {fam.streams}",
        f"  device time      {'yes' if fam.has_device_time else 'no (host arrival time)'}",
        f"  counter          {'yes' if fam.has_counter else 'no'}",
        f"  quaternion       {'yes' if fam.has_quaternion else 'no'}",
        f"  recognised by    service uuid, name ~ {' | '.join(fam.name_patterns) or '-'}"
        + (
            f", manufacturer id {', '.join(str(m) for m in fam.manufacturer_ids)}"
            if fam.manufacturer_ids
            else ""
        ),
    ]
    if fam.extra_service_uuids:
        lines.append(f"  also reads       {', '.join(fam.extra_service_uuids)}")
    lines += [f"  note             {n}" for n in fam.notes]
    return "\n".join(lines)


def describe(families: dict[str, Family]) -> str:
    return "\n\n".join(describe_family(f) for f in families.values()) + "\n"
