"""CUDA kernel tests: collected under numba's simulator, where a real GPU is usable, and (only
``test_cuda_compile.py``) where NVVM can compile kernels without a GPU.

The simulator must be switched on before numba is first imported, so a normal ``pytest`` run
cannot enable it here; ``tests/test_cuda_simulator.py`` runs this folder in a subprocess with
``NUMBA_ENABLE_CUDASIM=1``. The simulator never compiles kernels, so the compile check is left
out there.
"""

import os

COMPILE_CHECK = "test_cuda_compile.py"


def _collect_ignore() -> list:
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return [COMPILE_CHECK]
    from fastkeras.device import cuda_status

    if cuda_status().available:
        return []
    from numba import cuda
    from numba.cuda.cudadrv import nvvm

    if getattr(cuda, "implementation", "") == "NVIDIA" and nvvm.is_available():
        return [name for name in os.listdir(os.path.dirname(__file__))
                if name.startswith("test_") and name != COMPILE_CHECK]
    return ["test_*.py"]


collect_ignore_glob = _collect_ignore()
