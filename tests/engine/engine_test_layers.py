"""Small layers written only with the backend, for testing the engine independently of
fastkeras.layers (each is a typical user-written custom layer)."""

import numpy as np

from fastkeras import backend as K
from fastkeras.engine.base_layer import Layer
from fastkeras.engine.input_spec import InputSpec


class Linear(Layer):
    """``activation(x @ kernel + bias)`` with an optional weight regularizer."""

    supports_masking = True

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 kernel_regularizer=None, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.activation = activation
        self.use_bias = use_bias
        self.kernel_initializer = kernel_initializer
        self.kernel_regularizer = kernel_regularizer

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel",
                                      initializer=self.kernel_initializer,
                                      regularizer=self.kernel_regularizer)
        if self.use_bias:
            self.bias = self.add_weight(shape=(self.units,), name="bias", initializer="zeros")

    def call(self, x):
        y = K.dot(x, self.kernel)
        if self.use_bias:
            y = y + self.bias
        if self.activation == "relu":
            y = K.relu(y)
        elif self.activation == "softmax":
            y = K.softmax(y)
        elif self.activation == "sigmoid":
            y = K.sigmoid(y)
        return y

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": self.activation,
                "use_bias": self.use_bias, "kernel_initializer": self.kernel_initializer}


def linear_reference(layer, x):
    """The numpy reference of :class:`Linear` (no activation)."""
    out = np.asarray(x, np.float64) @ layer.kernel.numpy().astype(np.float64)
    if layer.use_bias:
        out = out + layer.bias.numpy()
    return out


class Concat(Layer):
    def call(self, inputs):
        return K.concatenate(list(inputs), axis=-1)


class Scale(Layer):
    """Multiplies by a constant; masks pass through."""

    supports_masking = True

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor


class MaskZeros(Layer):
    """Masks timesteps whose features are all zero (a small Masking)."""

    supports_masking = True

    def call(self, x):
        return x

    def compute_mask(self, inputs, mask=None):
        return np.any(np.asarray(inputs) != 0, axis=-1)


class Flat(Layer):
    """Flatten without mask support."""

    def call(self, x):
        return K.reshape(x, (x.shape[0], -1))


class Swap(Layer):
    """Permute the two non-batch axes of a rank-3 input."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.input_spec = InputSpec(ndim=3)

    def call(self, x):
        return K.permute_dimensions(x, (0, 2, 1))


class ActivityL1(Layer):
    """Identity adding ``l1 * sum|y| / batch`` to the losses."""

    def __init__(self, l1=0.01, **kwargs):
        super().__init__(**kwargs)
        self.l1 = l1

    def call(self, x):
        self.add_loss(self.l1 * K.sum(K.abs(x)) / x.shape[0])
        return x


class TrainingProbe(Layer):
    """Identity that records the training flag of each call."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.flags = []

    def call(self, x, training=None):
        self.flags.append(training)
        return x

    def get_config(self):
        return super().get_config()
