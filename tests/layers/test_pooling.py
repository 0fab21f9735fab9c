"""GlobalAveragePooling1D and GlobalMaxPooling1D: numpy references, masks, gradients, errors."""

import numpy as np
import pytest

from fastkeras.backend.tensor import Tensor
from fastkeras.engine.input_layer import Input
from fastkeras.layers.pooling import GlobalAveragePooling1D, GlobalMaxPooling1D
from layer_gradcheck import check_gradient

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 5, 4)).astype(np.float32)
MASK = np.array([[1, 1, 0, 1, 0], [0, 0, 0, 0, 1], [1, 1, 1, 1, 1]], bool)


def masked(x, mask):
    return masked_tensor(Tensor(x), mask)


def test_unmasked_pooling_matches_numpy():
    np.testing.assert_allclose(GlobalAveragePooling1D()(X), X.mean(axis=1), rtol=1e-6)
    np.testing.assert_array_equal(GlobalMaxPooling1D()(X), X.max(axis=1))
    xt = np.swapaxes(X, 1, 2)
    np.testing.assert_allclose(GlobalAveragePooling1D(data_format="channels_first")(xt),
                               X.mean(axis=1), rtol=1e-6)
    np.testing.assert_array_equal(GlobalMaxPooling1D(data_format="channels_first")(xt),
                                  X.max(axis=1))


def test_keepdims_and_output_shapes():
    assert GlobalAveragePooling1D(keepdims=True)(X).shape == (3, 1, 4)
    assert GlobalMaxPooling1D(data_format="channels_first", keepdims=True)(X).shape == (3, 5, 1)
    assert GlobalAveragePooling1D().compute_output_shape((None, None, 4)) == (None, 4)
    assert GlobalMaxPooling1D(data_format="channels_first").compute_output_shape(
        (None, 6, None)) == (None, 6)
    assert GlobalMaxPooling1D()(Input((None, 7))).shape == (None, 7)


def test_masked_average_uses_only_valid_steps():
    out = GlobalAveragePooling1D()(masked(X, MASK))
    expected = np.stack([X[i][MASK[i]].mean(axis=0) for i in range(3)])
    np.testing.assert_allclose(out.value, expected, rtol=1e-6)
    assert out._keras_mask is None
    xt = np.ascontiguousarray(np.swapaxes(X, 1, 2))
    out_cf = GlobalAveragePooling1D(data_format="channels_first", keepdims=True)(masked(xt, MASK))
    np.testing.assert_allclose(out_cf.value[..., 0], expected, rtol=1e-6)


def test_masked_max_uses_only_valid_steps():
    x = X.copy()
    x[~MASK] = 100.0  # masked steps would win an unmasked max
    out = GlobalMaxPooling1D()(masked(x, MASK))
    expected = np.stack([x[i][MASK[i]].max(axis=0) for i in range(3)])
    np.testing.assert_array_equal(out.value, expected)
    assert out._keras_mask is None


def test_fully_masked_sample_gives_nan_average_and_minus_inf_max():
    mask = MASK.copy()
    mask[1] = False
    avg = GlobalAveragePooling1D()(masked(X, mask)).value
    mx = GlobalMaxPooling1D()(masked(X, mask)).value
    assert np.isnan(avg[1]).all() and np.isfinite(avg[[0, 2]]).all()
    assert np.isneginf(mx[1]).all() and np.isfinite(mx[[0, 2]]).all()


@pytest.mark.parametrize("cls", [GlobalAveragePooling1D, GlobalMaxPooling1D])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_gradients_match_finite_differences(cls, data_format):
    x = np.random.default_rng(1).standard_normal((2, 4, 3))
    mask = np.array([[1, 0, 1, 1], [0, 1, 1, 0]], bool)
    if data_format == "channels_first":
        x = np.ascontiguousarray(np.swapaxes(x, 1, 2))
    layer = cls(data_format=data_format, dtype="float64")
    check_gradient(lambda t: layer(t), [x])
    (grad,) = check_gradient(lambda t: layer(masked_tensor(t, mask)), [x])
    steps_first = grad if data_format == "channels_last" else np.moveaxis(grad, 2, 1)
    np.testing.assert_array_equal(steps_first[~mask], 0.0)  # masked steps get no gradient
    if cls is GlobalAveragePooling1D:  # every valid step counts: d out / d x = 1 / valid steps
        assert np.all(np.abs(steps_first[mask]).sum(axis=-1) > 0)


def masked_tensor(t, mask):
    t._keras_mask = mask
    return t


def test_mask_shape_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match=r"expects a mask of shape \(batch, steps\) = \(3, 5\)"):
        GlobalAveragePooling1D()(masked(X, MASK[:, :4]))


@pytest.mark.parametrize("cls", [GlobalAveragePooling1D, GlobalMaxPooling1D])
def test_wrong_rank_and_config(cls):
    with pytest.raises(ValueError, match="expected ndim=3, found ndim=2"):
        cls()(np.ones((2, 3)))
    config = cls(keepdims=True, name="pool").get_config()
    assert config == {"name": "pool", "trainable": True, "dtype": "float32",
                      "data_format": "channels_last", "keepdims": True}
    clone = cls.from_config(config)
    assert clone.keepdims is True and clone.data_format == "channels_last"
    with pytest.raises(ValueError, match="data_format=nhwc"):
        cls(data_format="nhwc")
