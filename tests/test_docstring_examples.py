"""Every ``>>>`` example in the package's docstrings runs and shows what it claims.

The API reference renders these examples, so they are documentation and must not rot. Each
runs with its own module's names plus ``np`` and the public fastkeras names a Keras user has
imported (``K``, ``Input``, ``Layer``, ``Dense``, ``Model``, ``Sequential``...).
"""

import doctest
import importlib
import pkgutil

import numpy as np
import pytest

import fastkeras
from fastkeras import backend as K
from fastkeras import layers
from fastkeras.models import Model, Sequential, load_model

SKIPPED_PACKAGES = ("fastkeras.kernels.cuda",)  # needs the CUDA simulator: tests/cuda covers it


def _modules():
    for info in pkgutil.walk_packages(fastkeras.__path__, "fastkeras."):
        if not info.name.startswith(SKIPPED_PACKAGES) and info.name != "fastkeras.__main__":
            yield info.name


def _examples():
    finder = doctest.DocTestFinder(exclude_empty=True)
    for name in _modules():
        module = importlib.import_module(name)
        for test in finder.find(module, name, globs=vars(module).copy()):
            if test.examples:
                yield test


EXAMPLES = list(_examples())
PUBLIC = {"np": np, "K": K, "Model": Model, "Sequential": Sequential, "load_model": load_model,
          **{n: getattr(layers, n) for n in layers.__all__}}


def test_the_package_has_docstring_examples():
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize("test", EXAMPLES, ids=[t.name for t in EXAMPLES])
def test_docstring_example(test):
    test.globs = {**PUBLIC, **test.globs}
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {test.name}"
