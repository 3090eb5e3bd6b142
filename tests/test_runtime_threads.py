"""The runtime keeps numpy's BLAS to one thread: its busy-waiting pool cost CPU for nothing."""

from __future__ import annotations

import os
import subprocess
import sys


def _threads_after_a_matrix_product(env: dict[str, str]) -> tuple[str, int]:
    code = (
        "import os, edge, numpy; a = numpy.ones((600, 600)); a @ a; "
        "print(os.environ['OPENBLAS_NUM_THREADS'], len(os.listdir('/proc/self/task')))"
    )
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    value, threads = result.stdout.split()
    return value, int(threads)


def test_the_runtime_keeps_numpys_blas_on_one_thread_unless_the_user_asks():
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    assert _threads_after_a_matrix_product(env) == ("1", 1)
    value, _ = _threads_after_a_matrix_product({**env, "OPENBLAS_NUM_THREADS": "2"})
    assert value == "2"
