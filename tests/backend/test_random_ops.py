"""Random ops and dropout: reproducibility, distributions, dropout semantics, errors."""

import numpy as np
import pytest

from fastkeras import backend as K
from fastkeras.backend.tensor import Variable


@pytest.mark.parametrize("draw", [
    lambda seed: K.random_uniform((50,), -1.0, 2.0, seed=seed),
    lambda seed: K.random_normal((50,), 1.0, 3.0, seed=seed),
    lambda seed: K.truncated_normal((50,), seed=seed),
    lambda seed: K.random_binomial((50,), 0.5, seed=seed),
    lambda seed: K.dropout(np.ones(50), 0.5, seed=seed),
])
def test_seeded_draws_reproduce_and_seeds_differ(draw):
    np.testing.assert_array_equal(draw(7).value, draw(7).value)
    assert not np.array_equal(draw(7).value, draw(8).value)


def test_unseeded_draws_follow_numpy_global_seed_as_keras2():
    np.random.seed(123)
    a = K.random_normal((20,)).value
    np.random.seed(123)
    np.testing.assert_array_equal(K.random_normal((20,)).value, a)


def test_distributions():
    n = 40_000
    u = K.random_uniform((n,), 2.0, 5.0, seed=0).value
    assert u.dtype == np.float32 and u.min() >= 2.0 and u.max() < 5.0
    assert abs(u.mean() - 3.5) < 5 * (3 / np.sqrt(12)) / np.sqrt(n)
    z = K.random_normal((n,), -1.0, 2.0, dtype="float64", seed=0).value
    assert z.dtype == np.float64
    assert abs(z.mean() + 1.0) < 5 * 2.0 / np.sqrt(n) and abs(z.std() - 2.0) < 0.05
    t = K.truncated_normal((n,), 0.5, 2.0, seed=0).value
    assert np.all(np.abs(t - 0.5) <= 4.0 + 1e-6)
    # std of a standard normal truncated to +-2 is 0.8796
    assert abs(t.std() / 2.0 - 0.8796) < 0.02
    b = K.random_binomial((n,), 0.3, seed=0).value
    assert set(np.unique(b)) <= {0.0, 1.0} and abs(b.mean() - 0.3) < 5 * np.sqrt(.21 / n)


def test_random_variables():
    v = K.random_uniform_variable((2, 3), 0.0, 1.0, seed=1, name="w")
    assert isinstance(v, Variable) and v.name == "w" and v.shape == (2, 3)
    np.testing.assert_array_equal(v.value, K.random_uniform((2, 3), 0.0, 1.0, seed=1).value)
    assert isinstance(K.random_normal_variable((2,), 0.0, 1.0, seed=1), Variable)


def test_dropout_matches_spec_example():
    out = K.dropout(np.ones((1000, 100), dtype=np.float32), 0.3, seed=0).value
    assert out.dtype == np.float32
    assert set(np.unique(out)) == {np.float32(0.0), np.float32(1.4285715)}
    assert abs((out == 0).mean() - 0.3) < 0.01


def test_dropout_noise_shape_shares_the_mask():
    out = K.dropout(np.ones((4, 5, 3)), 0.5, noise_shape=(None, 1, 3), seed=2).value
    np.testing.assert_array_equal(out, np.broadcast_to(out[:, :1], out.shape))
    assert set(np.unique(out)) <= {0.0, 2.0}


def test_dropout_edge_levels():
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(K.dropout(x, 0.0).value, x)
    np.testing.assert_array_equal(K.dropout(x, 1.0).value, np.zeros_like(x))


def test_dropout_errors():
    with pytest.raises(ValueError, match="Received: level=1.5"):
        K.dropout(np.ones(3), 1.5)
    with pytest.raises(TypeError, match="level='a'"):
        K.dropout(np.ones(3), "a")
    with pytest.raises(ValueError, match=r"\(2, 4\) does not broadcast to the input shape \(2, 3\)"):
        K.dropout(np.ones((2, 3)), 0.5, noise_shape=(2, 4))
    with pytest.raises(ValueError, match="one entry per axis"):
        K.dropout(np.ones((2, 3)), 0.5, noise_shape=(2,))
