"""The fastkeras backend, imported by Keras code as ``K``.

Keras 2's backend function set on numpy: every op takes tensors, arrays or Python numbers and
returns a :class:`Tensor`; inside a :class:`GradientTape` the ops record themselves so that
:func:`gradients` can differentiate through them. Numpy functions applied to tensors
(``np.exp(t)``, ``t @ w``, ``t[1:]``) dispatch to the same ops.
"""

from fastkeras.backend.activation_ops import (
    elu, gelu, hard_sigmoid, log_softmax, relu, selu, sigmoid, silu, softmax, softplus, softsign,
    swish,
)
from fastkeras.backend.array_ops import (
    arange, batch_flatten, broadcast_to, concatenate, expand_dims, flatten, gather, moveaxis,
    one_hot, ones_like, permute_dimensions, repeat, repeat_elements, reshape, reverse, squeeze,
    stack, swapaxes, take, tile, transpose, unstack, zeros_like,
)
from fastkeras.backend.config import (
    epsilon, floatx, image_data_format, set_epsilon, set_floatx, set_image_data_format,
)
from fastkeras.backend.linalg_ops import batch_dot, bias_add, dot, l2_normalize, matmul
from fastkeras.backend.loss_ops import (
    binary_crossentropy, categorical_crossentropy, sparse_categorical_crossentropy,
)
from fastkeras.backend.math_ops import (
    abs, add, cast, ceil, clip, cos, divide, equal, erf, exp, expm1, floor, greater,
    greater_equal, identity, less, less_equal, log, log1p, logical_and, logical_not, logical_or,
    maximum, minimum, multiply, negative, not_equal, pow, round, sign, sin, sqrt, square,
    stop_gradient, subtract, switch, tan, tanh, where,
)
from fastkeras.backend.random_ops import (
    dropout, random_binomial, random_normal, random_normal_variable, random_uniform,
    random_uniform_variable, truncated_normal,
)
from fastkeras.backend.reduction_ops import (
    all, any, argmax, argmin, cumprod, cumsum, logsumexp, max, mean, min, prod, std, sum, var,
)
from fastkeras.backend.session import (
    backend, clear_session, get_uid, in_test_phase, in_train_phase, learning_phase, reset_uids,
    set_learning_phase,
)
from fastkeras.backend.tensor import (
    GradientTape, Tensor, Variable, backprop, convert_to_tensor, gradients, is_recording,
)
from fastkeras.backend.variables import (
    batch_get_value, batch_set_value, cast_to_floatx, constant, count_params, dtype, eval, eye,
    get_value, int_shape, is_keras_tensor, is_tensor, is_variable, ndim, ones, set_value, shape,
    update, update_add, update_sub, variable, zeros,
)
