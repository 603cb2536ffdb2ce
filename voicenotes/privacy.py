"""Keep the libraries voicenotes uses from reporting anything anywhere.

onnxruntime (the speech detector inside faster-whisper and the optional semantic layer) ships a
telemetry client that, unless told otherwise, writes a device id and a usage database under
``~/.cache/Microsoft/DeveloperTools/.onnxruntime`` and tries to send events to a Microsoft host.
It reads ``ORT_DISABLE_TELEMETRY`` when the library is imported, so the switch must be set before
that import: :func:`quiet_libraries` runs when the ``voicenotes`` package is imported (it only
sets environment variables) and again, with the library's own off switch, wherever an
onnxruntime session is created. The Hugging Face hub client gets its telemetry switch too.
"""

from __future__ import annotations

import os
import sys

#: environment switches that turn library telemetry off (read at their import time)
TELEMETRY_OFF = {
    "ORT_DISABLE_TELEMETRY": "1",  # onnxruntime's telemetry client
    "HF_HUB_DISABLE_TELEMETRY": "1",  # the Hugging Face hub client
    "DO_NOT_TRACK": "1",  # the common convention other libraries honour
}


def quiet_libraries() -> None:
    """Set every telemetry switch off; if onnxruntime is already loaded, call its off switch."""
    os.environ.update(TELEMETRY_OFF)
    ort = sys.modules.get("onnxruntime")
    if ort is not None and hasattr(ort, "disable_telemetry_events"):
        ort.disable_telemetry_events()
