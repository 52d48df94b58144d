"""The family registry the BLE layer works from, advertisement matching, describe, purity."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import firmware_protocol as fp
from firmware_protocol import FAMILIES, identify_family
from firmware_protocol._common import Samples
from firmware_protocol.errors import UnsupportedSettingError

REPO = Path(__file__).resolve().parents[2]
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def test_registry_keys_and_uuids() -> None:
    assert set(FAMILIES) == {
        "witmotion",
        "movesense",
        "metamotion",
        "dot",
        "calf",
        "thingy52",
        "polar",
    }
    for name, fam in FAMILIES.items():
        assert fam.name == name
        for u in (fam.service_uuid, fam.write_char_uuid, *fam.notify_char_uuids):
            assert UUID_RE.match(u), (name, u)
        assert fam.default_rate_hz in fam.supported_rates_hz
    # WitMotion's base is ...9a34fb, not the SIG base ...9b34fb
    assert FAMILIES["witmotion"].service_uuid == "0000ffe5-0000-1000-8000-00805f9a34fb"
    assert FAMILIES["witmotion"].notify_char_uuids == ("0000ffe4-0000-1000-8000-00805f9a34fb",)


@pytest.mark.parametrize(
    ("name", "uuids", "mfr", "family"),
    [
        ("WT901BLE68", [], {}, "witmotion"),
        ("WT9011DCL-BT50", [], {}, "witmotion"),
        (None, ["0000FFE5-0000-1000-8000-00805F9A34FB"], {}, "witmotion"),
        ("Movesense 233830000816", [], {}, "movesense"),
        ("MetaWear", [], {}, "metamotion"),
        ("Movella DOT", [], {}, "dot"),
        ("Xsens DOT", [], {}, "dot"),
        (None, [], {2182: b"\x01\x02"}, "dot"),
        ("CALF-shin-3F2A", [], {}, "calf"),
        (None, ["ca1f0001-45aa-4172-ac33-6823983e296e"], {}, "calf"),
        ("Thingy", [], {}, "thingy52"),
        (None, ["ef680100-9b35-4933-9b10-52ffa9740042"], {}, "thingy52"),
        ("Polar Sense B5A1C32F", [], {}, "polar"),
        ("Polar H10 12345", [], {}, None),  # no gyroscope
        ("WTF headphones", ["0000180f-0000-1000-8000-00805f9b34fb"], {76: b""}, None),
        (None, ["0000ffe5-0000-1000-8000-00805f9b34fb"], {}, None),  # SIG base: not WitMotion
    ],
)
def test_identify_family(name: str | None, uuids: list[str], mfr: dict, family: str | None) -> None:
    got = identify_family(name, uuids, mfr)
    assert (got.name if got else None) == family


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_start_stop_commands_target_the_family_characteristics(name: str) -> None:
    fam = FAMILIES[name]
    cmds = fam.start_commands(fam.default_rate_hz)
    assert cmds
    for uuid, data in cmds + fam.stop_commands():
        assert UUID_RE.match(uuid)
        assert isinstance(data, bytes)
        assert data
    with pytest.raises(UnsupportedSettingError):
        fam.start_commands(7.77)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_emulated_session_end_to_end(name: str) -> None:
    """Subscribe, write the start commands, stream simulated motion, decode what came back."""
    fam = FAMILIES[name]
    rate = fam.default_rate_hz
    enc = fam.new_encoder(rate, mtu=247)
    dec = fam.new_decoder(rate)
    assert enc.is_streaming == (name in ("witmotion", "thingy52"))  # these stream on subscribe
    replies = [r for _, c in fam.start_commands(rate) for r in enc.respond(c)]
    assert enc.is_streaming
    t = np.arange(60) / rate
    acc = np.stack([np.sin(t), np.cos(t), 9.81 + 0 * t], axis=1)
    gyr = np.stack([50 * np.sin(3 * t), 0 * t, -20 + 0 * t], axis=1)
    spp = enc.samples_per_packet
    k = max(1, min(5, len(acc) // spp))
    notes = enc.encode(acc[: spp * k], gyr[: spp * k])
    # emulator contract: k whole packets, each the same number of notifications
    assert len(notes) % k == 0
    assert notes
    notes += enc.encode(acc[spp * k :], gyr[spp * k :]) + enc.flush()
    events = [e for u, b in replies for e in dec.feed(b, u)]
    events += [e for b in notes for e in dec.feed(b)] + dec.flush()
    s = [e for e in events if isinstance(e, Samples)]
    got_acc = np.concatenate([e.acc_m_s2 for e in s])
    got_gyr = np.concatenate([e.gyr_dps for e in s])
    n = len(got_acc)
    assert n >= 57  # a packed family may hold back an incomplete last batch
    np.testing.assert_allclose(got_acc, acc[:n], atol=0.01)
    np.testing.assert_allclose(got_gyr, gyr[:n], atol=0.07)
    assert dec.stats.bytes_dropped == 0
    assert dec.stats.gaps == 0
    if fam.has_device_time:
        t_dev = np.concatenate([e.t_dev_s for e in s])
        # Movesense stamps packets in whole ms: up to 1 ms jitter at packet boundaries;
        # MetaMotion's tick is 48/32768 s = 1.465 ms
        atol = 1.0001 * 48 / 32768 if name == "metamotion" else 1.01e-3
        np.testing.assert_allclose(np.diff(t_dev), 1 / rate, rtol=0, atol=atol)


def test_describe_lists_every_family_with_uuids_and_rates(capsys: pytest.CaptureFixture) -> None:
    from firmware_protocol.__main__ import main

    assert main(["describe"]) == 0
    out = capsys.readouterr().out
    for fam in FAMILIES.values():
        assert f"{fam.name}: {fam.display_name}" in out
        assert fam.service_uuid in out
        assert all(u in out for u in fam.notify_char_uuids)
    assert "rates (Hz)       10, 20, 50, 100, 200 (default 100)" in out


def test_companion_describe_prints_the_same(capsys: pytest.CaptureFixture) -> None:
    """``companion describe`` (its command module, registered on a bare parser) == ours."""
    import argparse

    from companion.commands import describe as cmd
    from firmware_protocol.__main__ import main

    main(["describe", "dot"])
    ours = capsys.readouterr().out
    parser = argparse.ArgumentParser(prog="companion")
    cmd.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["describe", "dot"])
    assert args.func(args) == 0
    assert capsys.readouterr().out == ours
    assert ours.startswith("dot: Movella DOT")
    main(["describe"])
    everything = capsys.readouterr().out
    args = parser.parse_args(["describe"])
    assert args.func(args) == 0
    assert capsys.readouterr().out == everything


def test_package_imports_nothing_forbidden() -> None:
    code = (
        "import sys, firmware_protocol, firmware_protocol.__main__\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'companion','bleak','asyncio','PySide6','pyqtgraph','qasync','pandas','pyarrow','matplotlib'})\n"
        "print(','.join(bad))\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert res.stdout.strip() == ""
    assert fp.__all__  # the public names exist
    for name in fp.__all__:
        assert hasattr(fp, name)
