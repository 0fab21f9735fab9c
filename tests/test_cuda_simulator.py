"""Run the CUDA kernel tests (``tests/cuda``) under numba's CUDA simulator.

The simulator has to be switched on before numba is imported, which this pytest process has
already done, so the folder runs in a child pytest with ``NUMBA_ENABLE_CUDASIM=1``. The count of
passed tests is checked so that a folder silently skipped or partly collected fails here.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXPECTED_PASSED = 204


def test_cuda_kernels_pass_under_the_simulator():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/cuda", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    tail = result.stdout[-4000:] + result.stderr[-2000:]
    assert result.returncode == 0, tail
    summary = result.stdout.strip().splitlines()[-1]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) == EXPECTED_PASSED, summary
    assert not re.search(r"failed|error|skipped", summary), summary
