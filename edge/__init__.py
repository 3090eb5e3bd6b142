"""talkratio's edge runtime: numpy + onnxruntime only, never torch.

onnxruntime reports telemetry unless told not to; setting the switch here, before
any ``edge`` module can load onnxruntime, covers every import path.

numpy's bundled OpenBLAS starts one busy-waiting thread per core. The runtime's
matrix products are small (mel filters, a 256-wide probe), so those threads buy
nothing and burned about 0.8 CPU s on a 90 s recording on two cores
(`/usr/bin/time talkratio analyze edge/assets/samples/household.wav --json`:
1.9 s user without the limit, 1.0 s with it). A value the user sets wins.
"""

import os

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
