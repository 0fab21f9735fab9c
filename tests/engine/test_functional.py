"""Functional models: graph construction, replay, structures, sharing, nesting, config, errors."""

import numpy as np
import pytest

from fastkeras import backend as K
from fastkeras.engine.base_layer import Layer
from fastkeras.engine.functional import Functional
from fastkeras.engine.input_layer import Input
from fastkeras.engine.training import Model

from engine_test_layers import (
    Concat, Flat, Linear, MaskZeros, Scale, TrainingProbe, linear_reference,
)


@pytest.fixture(autouse=True)
def _fresh_names():
    K.clear_session()


def two_in_two_out():
    a, b = Input((4,), name="a"), Input((3,), name="b")
    h = Concat(name="concatenate")([a, b])
    out1 = Linear(2, name="out1")(h)
    out2 = Linear(1, name="out2")(h)
    return Model([a, b], [out1, out2], name="mm"), a, b


def test_two_inputs_two_outputs_structure_and_numbers():
    model, a, b = two_in_two_out()
    assert isinstance(model, Functional)
    assert [layer.name for layer in model.layers] == ["a", "b", "concatenate", "out1", "out2"]
    assert model.input_shape == [(None, 4), (None, 3)]
    assert model.output_shape == [(None, 2), (None, 1)]
    assert model.output_names == ["out1", "out2"]
    rng = np.random.default_rng(0)
    xa, xb = rng.normal(size=(5, 4)), rng.normal(size=(5, 3))
    p1, p2 = model.predict([xa, xb], verbose=0)
    h = np.concatenate([xa, xb], axis=1)
    np.testing.assert_allclose(p1, linear_reference(model.get_layer("out1"), h), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(p2, linear_reference(model.get_layer("out2"), h), rtol=1e-5,
                               atol=1e-6)
    d1, d2 = model({"a": xa, "b": xb})  # dict inputs by name, direct call
    np.testing.assert_allclose(d1, p1, rtol=1e-6)
    assert isinstance(d2, np.ndarray) and d2.dtype == np.float32


def test_wrong_input_count_and_shape_errors_name_the_model():
    model, _, _ = two_in_two_out()
    with pytest.raises(ValueError, match=r"Layer \"mm\" expects 2 named input\(s\) with keys "
                                         r"\['a', 'b'\], but it received 1 input tensors"):
        model(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"Input 0 with name 'a' of layer 'mm' is incompatible "
                                         r"with the layer: expected shape=\(None, 4\), found "
                                         r"shape=\(2, 5\)"):
        model([np.ones((2, 5)), np.ones((2, 3))])
    with pytest.raises(ValueError, match='Missing data for input "b"'):
        model({"a": np.ones((2, 4))})


def test_single_element_lists_are_unwrapped():
    a = Input((2,))
    out = Linear(3)(a)
    model = Model([a], [out])
    pred = model.predict(np.ones((4, 2)), verbose=0)
    assert isinstance(pred, np.ndarray) and pred.shape == (4, 3)


def test_keras2_input_output_keywords_and_rank_adjustment():
    a = Input((1,))
    model = Model(input=a, output=Scale(3.0)(a))
    np.testing.assert_array_equal(model.predict(np.array([1.0, 2.0]), verbose=0),
                                  [[3.0], [6.0]])  # (n,) fed to a (None, 1) input


def test_graph_errors():
    a, b = Input((2,), name="x1"), Input((2,), name="x2")
    with pytest.raises(ValueError, match=r"Output with path `` is not connected to `inputs`"):
        Model(a, Scale()(b))
    with pytest.raises(ValueError, match=r"Output with path `1` is not connected"):
        Model(a, [Scale()(a), Scale()(b)])
    with pytest.raises(ValueError, match="All `inputs` values must be KerasTensors"):
        Model(np.ones((1, 2)), Scale()(a))
    with pytest.raises(ValueError, match='The name "same" is used 2 times in the model. All '
                                         'operation names should be unique.'):
        Model(a, Scale(name="same")(Scale(name="same")(a)))


def test_shared_layer_shares_weights():
    a, b = Input((3,)), Input((3,))
    shared = Linear(2, name="shared")
    model = Model([a, b], Concat()([shared(a), shared(b)]))
    assert len(model.trainable_weights) == 2
    xa, xb = np.ones((1, 3)), np.arange(3.0).reshape(1, 3)
    out = model.predict([xa, xb], verbose=0)
    np.testing.assert_allclose(out, np.concatenate([linear_reference(shared, xa),
                                                    linear_reference(shared, xb)], 1),
                               rtol=1e-5)


def test_models_are_layers_and_nest():
    inner_in = Input((3,))
    inner = Model(inner_in, Linear(2, name="inner_dense")(inner_in), name="inner")
    x = Input((3,))
    outer = Model(x, Scale(10.0)(inner(x)), name="outer")
    data = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(outer.predict(data, verbose=0),
                               10 * linear_reference(inner.get_layer("inner_dense"), data),
                               rtol=1e-5)
    assert [w.path for w in outer.weights] == ["inner_dense/kernel", "inner_dense/bias"]
    assert outer.get_weights()[0].shape == (3, 2)


def test_masks_propagate_through_the_graph_and_to_non_supporting_layers():
    x = Input((3, 2))
    masked = MaskZeros(name="masking")(x)
    y = Scale()(masked)
    assert y._keras_mask.shape == (None, 3)
    with pytest.raises(TypeError, match=r"Layer 'flat' \(of type Flat\) does not support "
                                        r"masking.*produced by layer 'masking'"):
        Flat(name="flat")(y)


def test_training_flag_through_models():
    x = Input((2,))
    probe = TrainingProbe()
    model = Model(x, probe(x))
    model.compile(optimizer="sgd", loss="mse")
    data = np.ones((4, 2), np.float32)
    model(data)
    model(data, training=True)
    model.predict(data, verbose=0)
    model.evaluate(data, data, verbose=0)
    probe.flags.clear()
    model.train_on_batch(data, data)
    assert probe.flags == [True]
    probe.flags.clear()
    model(data)
    assert probe.flags == [None]


def test_get_layer_errors():
    model, _, _ = two_in_two_out()
    assert model.get_layer(index=2).name == "concatenate"
    with pytest.raises(ValueError, match="No such layer: nope. Existing layers are"):
        model.get_layer("nope")
    with pytest.raises(ValueError, match="Was asked to retrieve layer at index 9"):
        model.get_layer(index=9)
    with pytest.raises(ValueError, match="Provide only a layer name or a layer index"):
        model.get_layer("a", 0)


def test_config_round_trip_rebuilds_the_same_graph():
    model, _, _ = two_in_two_out()
    config = model.get_config()
    assert config["input_layers"] == [["a", 0, 0], ["b", 0, 0]]
    assert config["output_layers"] == [["out1", 0, 0], ["out2", 0, 0]]
    concat = next(e for e in config["layers"] if e["name"] == "concatenate")
    history = [t["config"]["keras_history"] for t in concat["inbound_nodes"][0]["args"][0]]
    assert history == [["a", 0, 0], ["b", 0, 0]]
    clone = Functional.from_config(config, custom_objects={"Concat": Concat, "Linear": Linear})
    assert [layer.name for layer in clone.layers] == [layer.name for layer in model.layers]
    clone.set_weights(model.get_weights())
    x = [np.ones((2, 4)), np.ones((2, 3))]
    for got, want in zip(clone.predict(x, verbose=0), model.predict(x, verbose=0)):
        np.testing.assert_array_equal(got, want)


def test_summary_for_a_branching_model():
    model, _, _ = two_in_two_out()
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert lines[0] == 'Model: "mm"'
    assert "Connected to" in text and "a[0][0], b[0][0]" in text
    assert "concatenate (Concat)" in text and "(None, 7)" in text
    # out1: 7*2+2 = 16, out2: 7+1 = 8 -> 24 float32 params = 96 bytes
    assert " Total params: 24 (96.00 B)" in lines
    assert " Trainable params: 24 (96.00 B)" in lines
    assert " Non-trainable params: 0 (0.00 B)" in lines


def test_keras2_subclass_with_functional_init():
    class Wrapped(Model):
        def __init__(self):
            x = Input((2,))
            super().__init__(x, Scale(5.0)(x), name="wrapped")

    model = Wrapped()
    assert isinstance(model, Wrapped) and isinstance(model, Functional)
    np.testing.assert_array_equal(model.predict(np.ones((1, 2)), verbose=0), [[5.0, 5.0]])


def test_subclassed_model_tracks_layers_and_builds():
    class Two(Model):
        def __init__(self):
            super().__init__()
            self.first = Linear(4, activation="relu")
            self.second = Linear(1)

        def call(self, x):
            return self.second(self.first(x))

    model = Two()
    model.build((None, 3))
    assert [layer.name for layer in model.layers] == ["linear", "linear_1"]
    assert len(model.weights) == 4 and model.count_params() == 3 * 4 + 4 + 4 + 1
    x = np.random.default_rng(2).normal(size=(3, 3))
    hidden = np.maximum(linear_reference(model.first, x), 0)
    np.testing.assert_allclose(model.predict(x, verbose=0),
                               linear_reference(model.second, hidden), rtol=1e-5, atol=1e-6)


def test_int_inputs_keep_their_dtype_until_a_float_layer():
    seen = []

    class Record(Layer):
        def __init__(self, **kwargs):
            super().__init__(autocast=False, **kwargs)

        def call(self, x):
            seen.append(x.dtype)
            return K.cast(x, "float32")

    x = Input((2,), dtype="int32")
    model = Model(x, Record()(x))
    model.predict(np.array([[1, 2]], dtype=np.int64), verbose=0)
    assert seen[-1] == np.int32


def test_sparse_inputs_are_accepted_and_densified_for_dense_only_layers():
    import scipy.sparse

    x = Input((3,), sparse=True, name="s")
    assert x.sparse
    layer = Linear(2, name="lin")
    model = Model(x, layer(x))
    data = scipy.sparse.csr_matrix(np.array([[0, 1, 0], [2, 0, 3]], np.float32))
    np.testing.assert_allclose(model.predict(data, verbose=0),
                               linear_reference(layer, data.toarray()), rtol=1e-6)
    model.compile(optimizer="sgd", loss="mse")
    assert np.isfinite(model.evaluate(data, np.zeros((2, 2)), verbose=0))
