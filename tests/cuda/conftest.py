"""CUDA kernel tests: collected only under numba's simulator or where a real GPU is usable.

The simulator must be switched on before numba is first imported, so a normal ``pytest`` run
cannot enable it here; ``tests/test_cuda_simulator.py`` runs this folder in a subprocess with
``NUMBA_ENABLE_CUDASIM=1``. Without the simulator these tests run only on a machine with a GPU.
"""

import os


def _cuda_usable() -> bool:
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return True
    from fastkeras.device import cuda_status

    return cuda_status().available


collect_ignore_glob = [] if _cuda_usable() else ["test_*.py"]
