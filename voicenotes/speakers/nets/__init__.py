"""Vendored network definitions for speaker separation (weights are not here: they are
installed with ``voicenotes models install speakers``). ``pyannet``: pyannote.audio's PyanNet for
the segmentation-3.0 checkpoint (MIT, CNRS). ``campplus``: the CAM++ speaker-embedding network
(Apache-2.0, 3D-Speaker). Both import torch; import them only inside functions."""
