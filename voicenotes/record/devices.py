"""Before recording: the sound library (imported only when needed), the input devices, the
sample format a device accepts, and a check that the output folder can hold the recording."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from voicenotes.errors import DeviceError, StorageError
from voicenotes.record.wavfile import DEFAULT_SAMPLE_RATE

_NO_PORTAUDIO = ("No sound input library (PortAudio) was found, so nothing can be recorded. "
                 "Install it with `sudo apt-get install libportaudio2` (Debian/Ubuntu) and try "
                 "again.")


def import_sounddevice() -> Any:
    """Import sounddevice, turning a missing PortAudio into a plain DeviceError."""
    try:
        import sounddevice as sd
    except OSError:
        raise DeviceError(_NO_PORTAUDIO) from None
    except ImportError:
        raise DeviceError("The sounddevice package is missing, so nothing can be recorded.",
                          hint="Reinstall voicenotes (pip install voicenotes).") from None
    return sd


def _hostapi_name(hostapis: Any, d: dict[str, Any]) -> str:
    try:
        return hostapis[d["hostapi"]]["name"]
    except (IndexError, KeyError, TypeError):
        return ""


def list_input_devices(sd: Any = None) -> list[dict[str, Any]]:
    """Input devices as dicts (index, name, hostapi, channels, default_samplerate, default)."""
    sd = sd or import_sounddevice()
    try:
        devices = sd.query_devices()
        default_in = sd.default.device[0]
        hostapis = sd.query_hostapis()
    except Exception:
        raise DeviceError("The sound system could not list the input devices.",
                          hint="Check that a microphone is connected, then run "
                               "`voicenotes devices`.") from None
    return [{"index": d["index"], "name": d["name"], "hostapi": _hostapi_name(hostapis, d),
             "channels": d["max_input_channels"],
             "default_samplerate": d.get("default_samplerate"),
             "default": d["index"] == default_in}
            for d in devices if d.get("max_input_channels", 0) >= 1]


def _device_by_number(devices: list[dict[str, Any]], idx: int) -> dict[str, Any]:
    for d in devices:
        if d["index"] == idx:
            return d
    raise DeviceError(f"There is no input device number {idx}.",
                      hint="Run `voicenotes devices` to see the numbers.")


def _device_by_name(devices: list[dict[str, Any]], device: str) -> dict[str, Any]:
    matches = [d for d in devices if device.lower() in d["name"].lower()]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise DeviceError(f"No input device is named like '{device}'.",
                          hint="Run `voicenotes devices` to see the names.")
    raise DeviceError(f"Several input devices match '{device}'.",
                      hint="Use the device number shown by `voicenotes devices`.")


def choose_device(device: str | None, sd: Any = None) -> dict[str, Any]:
    """Resolve ``--device`` (an index or part of a name; None = the default input)."""
    devices = list_input_devices(sd)
    if not devices:
        raise DeviceError("No microphone or other sound input was found.",
                          hint="Connect a microphone, then run `voicenotes devices` to check.")
    if device is None or device == "":
        return next((d for d in devices if d["default"]), devices[0])
    if str(device).strip().isdigit():
        return _device_by_number(devices, int(device))
    return _device_by_name(devices, str(device))


def pick_format(sd: Any, device: dict[str, Any],
                want_rate: int = DEFAULT_SAMPLE_RATE) -> tuple[int, int]:
    """(sample rate, channels): 16 kHz mono when the device accepts it, else its own rate."""
    rates = [want_rate]
    dr = device.get("default_samplerate")
    if dr and int(dr) not in rates:
        rates.append(int(dr))
    for channels in (1, min(2, device["channels"])):
        for rate in rates:
            try:
                sd.check_input_settings(device=device["index"], channels=channels,
                                        dtype="int16", samplerate=rate)
                return rate, channels
            except Exception:
                continue
    raise DeviceError(f"The input device '{device['name']}' does not accept 16-bit recording.",
                      hint="Choose another with --device (see `voicenotes devices`).")


# --------------------------------------------------------------------------- storage


def _nearest_existing(path: Path) -> Path:
    while not path.exists():
        if path.parent == path:
            break
        path = path.parent
    return path


def _probe_writable(folder: Path) -> None:
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-probe-", dir=folder)
        try:
            os.write(fd, b"\0" * 4096)
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(tmp)
    except OSError as exc:
        raise StorageError(
            f"The folder {folder} cannot be written to ({exc.strerror or exc}), so the "
            "recording cannot be saved.", hint="Choose another --out folder.") from None


def check_storage(out: Path, max_seconds: float, bytes_per_second: int) -> Path:
    """The output folder (or, if it does not exist yet, its nearest existing parent) must be
    writable and have room for ``max_seconds`` of audio. Nothing is left behind."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise StorageError(f"{out} is a file, not a folder.", hint="Choose another --out folder.")
    probe_dir = _nearest_existing(out)
    _probe_writable(probe_dir)
    need = int(max_seconds * bytes_per_second) + (1 << 20)
    free = shutil.disk_usage(probe_dir).free
    if free < need:
        raise StorageError(
            f"Not enough free space in {probe_dir} for {max_seconds / 60:.0f} minutes of audio: "
            f"about {need / 1e6:.0f} MB needed, {free / 1e6:.0f} MB free.",
            hint="Free some space, choose another --out folder, or lower --max-minutes.")
    return probe_dir
