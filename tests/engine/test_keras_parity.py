"""The same model, weights and data in fastkeras and in Keras 3 (torch backend) give the same
training history, evaluation and predictions. Skipped when Keras 3 is not installed."""

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
keras = pytest.importorskip("keras")
if keras.backend.backend() != "torch":
    pytest.skip("the parity reference is Keras 3 on the torch backend", allow_module_level=True)

from fastkeras import backend as K  # noqa: E402
from fastkeras.engine.input_layer import Input  # noqa: E402
from fastkeras.engine.training import Model  # noqa: E402
from fastkeras.layers.dense import Dense  # noqa: E402
from fastkeras.optimizers import SGD  # noqa: E402


def build(lib_input, lib_dense, lib_model):
    inp = lib_input((4,), name="inp")
    hidden = lib_dense(6, activation="tanh", name="hidden")(inp)
    out1 = lib_dense(2, name="out1")(hidden)
    out2 = lib_dense(1, activation="sigmoid", name="out2")(hidden)
    return lib_model(inp, [out1, out2])


def test_two_output_training_matches_keras():
    K.clear_session()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 4)).astype(np.float32)
    y1 = rng.normal(size=(20, 2)).astype(np.float32)
    y2 = (rng.random((20, 1)) > 0.5).astype(np.float32)
    xv, y1v, y2v = x[:6] + 0.5, y1[:6], y2[:6]

    ours = build(Input, Dense, Model)
    theirs = build(keras.Input, keras.layers.Dense, keras.Model)
    theirs.set_weights(ours.get_weights())
    compile_args = dict(loss=["mse", "binary_crossentropy"], loss_weights=[1.0, 0.5],
                        metrics=[["mae"], ["accuracy"]])
    ours.compile(optimizer=SGD(learning_rate=0.1, momentum=0.9), **compile_args)
    theirs.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9),
                   **compile_args)
    fit_args = dict(batch_size=8, epochs=3, shuffle=False, verbose=0,
                    validation_data=(xv, [y1v, y2v]))
    ours_h = ours.fit(x, [y1, y2], **fit_args).history
    theirs_h = theirs.fit(x, [y1, y2], **fit_args).history
    assert list(ours_h) == sorted(theirs_h)
    for key in theirs_h:
        np.testing.assert_allclose(ours_h[key], theirs_h[key], rtol=2e-5, atol=1e-6,
                                   err_msg=key)
    for got, want in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    ours_eval = ours.evaluate(xv, [y1v, y2v], verbose=0, return_dict=True)
    theirs_eval = theirs.evaluate(xv, [y1v, y2v], verbose=0, return_dict=True)
    assert sorted(ours_eval) == sorted(theirs_eval)
    for key, value in theirs_eval.items():
        np.testing.assert_allclose(ours_eval[key], value, rtol=2e-5, atol=1e-6, err_msg=key)
    for got, want in zip(ours.predict(x, verbose=0), theirs.predict(x, verbose=0)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def sequential(lib):
    return lib.Sequential([
        lib.Input((3,)),
        lib.layers.Dense(5, activation="relu", kernel_regularizer=lib.regularizers.l2(0.01),
                         activity_regularizer=lib.regularizers.l1(0.001)),
        lib.layers.Dense(3, activation="softmax")])


@pytest.mark.parametrize("case", ["sample_weight", "class_weight", "validation_split"])
def test_weighting_regularizers_and_splits_match_keras(case):
    import fastkeras
    K.clear_session()
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 3)).astype(np.float32)
    labels = rng.integers(0, 3, size=30)
    y = np.eye(3, dtype=np.float32)[labels]
    ours, theirs = sequential(fastkeras), sequential(keras)
    theirs.set_weights(ours.get_weights())
    args = dict(loss="categorical_crossentropy", metrics=["accuracy"],
                weighted_metrics=["accuracy"])
    ours.compile(optimizer=fastkeras.optimizers.Adam(0.01), **args)
    theirs.compile(optimizer=keras.optimizers.Adam(0.01), **args)
    fit = dict(batch_size=7, epochs=2, shuffle=False, verbose=0)
    if case == "sample_weight":
        fit["sample_weight"] = rng.random(30).astype(np.float32) * 2
    elif case == "class_weight":
        fit["class_weight"] = {0: 0.5, 1: 2.0, 2: 1.0}
    else:
        fit["validation_split"] = 0.25
    ours_h = ours.fit(x, y, **fit).history
    theirs_h = theirs.fit(x, y, **fit).history
    assert list(ours_h) == sorted(theirs_h)
    for key in theirs_h:
        np.testing.assert_allclose(ours_h[key], theirs_h[key], rtol=3e-5, atol=1e-6,
                                   err_msg=key)
    for got, want in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)


def test_masked_sequence_loss_and_metrics_match_keras():
    import fastkeras
    K.clear_session()
    rng = np.random.default_rng(2)
    x = rng.normal(size=(12, 5, 2)).astype(np.float32)
    x[:, 3:] = 0.0  # padding steps, masked out
    x[::2, 2] = 0.0
    y = rng.normal(size=(12, 5, 1)).astype(np.float32)

    def build(lib):
        return lib.Sequential([lib.Input((5, 2)), lib.layers.Masking(0.0),
                               lib.layers.Dense(4, activation="tanh"), lib.layers.Dense(1)])

    ours, theirs = build(fastkeras), build(keras)
    theirs.set_weights(ours.get_weights())
    ours.compile(optimizer=fastkeras.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    theirs.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    ours_h = ours.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history
    theirs_h = theirs.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history
    for key in theirs_h:
        np.testing.assert_allclose(ours_h[key], theirs_h[key], rtol=3e-5, atol=1e-6,
                                   err_msg=key)
    for got, want in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-6)
