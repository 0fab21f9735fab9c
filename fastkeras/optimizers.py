"""Optimizers: SGD, Adam, RMSprop and Adagrad with Keras 3's semantics and fused update kernels.

An optimizer updates :class:`~fastkeras.backend.tensor.Variable` values in place. Each step runs,
per variable, one kernel from :mod:`fastkeras.kernels.optim` that clips the gradient, applies
decoupled weight decay and updates the variable and its slots in a single pass; then constraints
are applied and ``iterations`` grows by one (spec ``layers.md`` section 23).

Keras 2 spellings are accepted: ``lr=`` for ``learning_rate``, ``decay=`` (the learning rate of
step ``t`` becomes ``lr / (1 + decay*t)``), ``epsilon=None`` (the backend epsilon) and the
lower-case class aliases ``sgd``, ``adam``, ``rmsprop``, ``adagrad``.

Custom optimizers subclass :class:`Optimizer` as in Keras 3: create slots in ``build`` with
``add_variable_from_reference`` and implement ``update_step(gradient, variable, learning_rate)``
on numpy arrays (``self.assign``/``assign_add``/``assign_sub`` write variables in place).
"""

from __future__ import annotations

import math
import numbers
import re
import warnings
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from fastkeras import backend as K
from fastkeras.backend.tensor import Variable, value_of
from fastkeras.kernels import optim as kernels

_COMMON_KEYS = ("weight_decay", "clipnorm", "global_clipnorm", "clipvalue", "use_ema",
                "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor",
                "gradient_accumulation_steps")


def _is_number(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _check_number(name: str, value: Any, low: float = 0.0, high: float = math.inf,
                  low_open: bool = False, allow_none: bool = False) -> Any:
    """Validate a hyperparameter: a real number in [low, high] (or (low, high]), or None."""
    if value is None and allow_none:
        return None
    ok = _is_number(value) and not math.isnan(value) and value <= high and (
        value > low if low_open else value >= low)
    if not ok:
        bound = f"({low}, {high}]" if low_open else f"[{low}, {high}]"
        raise ValueError(f"Argument `{name}` must be a number in {bound}"
                         f"{' or None' if allow_none else ''}. Received: {name}={value!r}")
    return value


def _snake_case(name: str) -> str:
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _flat(variable: Variable) -> np.ndarray:
    """A 1-D view of the variable's storage (made contiguous first if it is not)."""
    if not variable.value.flags.c_contiguous:
        variable.value = np.ascontiguousarray(variable.value)
    return variable.value.reshape(-1)


class Optimizer:
    """Base class of all optimizers.

    Parameters
    ----------
    learning_rate : float or callable
        A float (stored as a float32 ``Variable``, assignable) or a schedule: a callable taking
        the number of iterations done and returning the learning rate.
    weight_decay : float, optional
        Decoupled weight decay: before the update ``w -= w * weight_decay * lr``.
    clipnorm, clipvalue, global_clipnorm : float, optional
        Gradient clipping (at most one): per-tensor norm, per-element value, or global norm.
    use_ema, ema_momentum, ema_overwrite_frequency
        Keep an exponential moving average of the variables; overwrite the variables with it
        every ``ema_overwrite_frequency`` steps and in :meth:`finalize_variable_values`.
    loss_scale_factor : float, optional
        :meth:`scale_loss` multiplies the loss by it; gradients are divided by it.
    gradient_accumulation_steps : int, optional
        Update only every this many calls, with the mean of the accumulated gradients.
    name : str, optional
        Defaults to the snake-case class name made unique (``adam``, ``adam_1``, ...).
    **kwargs
        Keras 2 aliases ``lr`` and ``decay``; anything else raises ``ValueError``.
    """

    def __init__(self, learning_rate: Any, weight_decay: float | None = None,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, use_ema: bool = False,
                 ema_momentum: float = 0.99, ema_overwrite_frequency: int | None = None,
                 loss_scale_factor: float | None = None,
                 gradient_accumulation_steps: int | None = None, name: str | None = None,
                 **kwargs: Any):
        if "lr" in kwargs:
            warnings.warn("The `lr` argument is deprecated, use `learning_rate` instead.",
                          DeprecationWarning, stacklevel=3)
            learning_rate = kwargs.pop("lr")
        decay = kwargs.pop("decay", 0.0)
        if kwargs:
            raise ValueError(f"Argument(s) not recognized: {kwargs}")
        self.decay = float(_check_number("decay", decay))
        self.weight_decay = _check_number("weight_decay", weight_decay, allow_none=True)
        self.clipnorm = _check_number("clipnorm", clipnorm, allow_none=True)
        self.clipvalue = _check_number("clipvalue", clipvalue, allow_none=True)
        self.global_clipnorm = _check_number("global_clipnorm", global_clipnorm, allow_none=True)
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError(
                "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                f"Received: clipnorm={clipnorm}, clipvalue={clipvalue}, "
                f"global_clipnorm={global_clipnorm}")
        self.loss_scale_factor = _check_number("loss_scale_factor", loss_scale_factor,
                                               low_open=True, allow_none=True)
        if gradient_accumulation_steps is not None and (
                not isinstance(gradient_accumulation_steps, numbers.Integral)
                or isinstance(gradient_accumulation_steps, bool)
                or gradient_accumulation_steps < 2):
            raise ValueError(
                "`gradient_accumulation_steps` must be an integer >= 2. Received: "
                f"gradient_accumulation_steps={gradient_accumulation_steps}")
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.use_ema = bool(use_ema)
        if self.use_ema:
            _check_number("ema_momentum", ema_momentum, high=1.0)
            if ema_overwrite_frequency is not None and (
                    not isinstance(ema_overwrite_frequency, numbers.Integral)
                    or ema_overwrite_frequency < 1):
                raise ValueError(
                    "`ema_overwrite_frequency` must be an integer >= 1 or None. Received: "
                    f"ema_overwrite_frequency={ema_overwrite_frequency}")
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency

        if name is None:
            prefix = _snake_case(type(self).__name__)
            uid = K.get_uid(prefix)
            name = prefix if uid == 1 else f"{prefix}_{uid - 1}"
        self.name = name
        self.built = False
        self._variables: list[Variable] = []
        self._trainable_variables: list[Variable] = []
        self._index: dict[int, int] = {}
        self._ema_averages: list[Variable] = []
        self._accumulators: list[Variable] = []
        self._wd_excluded_ids: set[int] = set()
        self._wd_excluded_pattern: re.Pattern | None = None
        self._iterations = self._own_variable(0, "iteration", "int32")  # int32 as Keras 3 on torch
        self._learning_rate: Variable | Callable
        if callable(learning_rate):
            self._learning_rate = learning_rate
        else:
            self._learning_rate = self._own_variable(
                self._check_learning_rate(learning_rate), "learning_rate", K.floatx())

    # -- state ----------------------------------------------------------------------------------
    def _own_variable(self, value: Any, name: str, dtype: Any) -> Variable:
        var = Variable(value, dtype=dtype, name=name, trainable=False)
        var.path = f"{self.name}/{name}"
        self._variables.append(var)
        return var

    @staticmethod
    def _check_learning_rate(value: Any) -> float:
        value = value_of(value)
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value.item()
        if not _is_number(value):
            raise ValueError(
                "Argument `learning_rate` should be float, or an instance of "
                "LearningRateSchedule, or a callable (that takes in the current iteration "
                f"value and returns the corresponding learning rate value). Received instead: "
                f"learning_rate={value}")
        return float(value)

    @property
    def variables(self) -> list:
        """All optimizer state: ``iterations``, the learning rate variable, then the slots."""
        return list(self._variables)

    @property
    def iterations(self) -> Variable:
        """The number of steps taken (updates, when accumulating gradients), as a Variable."""
        if self.gradient_accumulation_steps:
            return Variable(self._steps_done(), dtype="int32", name="iteration", trainable=False)
        return self._iterations

    def _steps_done(self) -> int:
        done = int(self._iterations.value)
        steps = self.gradient_accumulation_steps
        return done // steps if steps else done

    @property
    def learning_rate(self) -> Any:
        """The learning rate: the float32 ``Variable``, or the schedule's current value."""
        if isinstance(self._learning_rate, Variable):
            return self._learning_rate
        return float(self._learning_rate(int(self._iterations.value)))

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        if callable(value):
            if isinstance(self._learning_rate, Variable):
                self._variables.remove(self._learning_rate)
            self._learning_rate = value
            return
        if not isinstance(self._learning_rate, Variable):
            raise TypeError(
                "This optimizer was created with a learning rate schedule as its "
                "`learning_rate` constructor argument, hence its learning rate is not "
                "settable. If you need the learning rate to be settable, you should "
                "instantiate the optimizer with a float `learning_rate` argument.")
        self._learning_rate.assign(self._check_learning_rate(value))

    lr = learning_rate  # Keras 2 name

    def _step_learning_rate(self) -> float:
        """The learning rate this step uses: the schedule's value, with Keras 2 ``decay``."""
        if isinstance(self._learning_rate, Variable):
            lr = float(self._learning_rate.value)
        else:
            lr = float(self._learning_rate(int(self._iterations.value)))
        if self.decay:
            lr = lr / (1.0 + self.decay * self._steps_done())
        return lr

    def add_variable(self, shape: Sequence[int], initializer: Any = "zeros", dtype: Any = None,
                     name: str | None = None) -> Variable:
        """Create an optimizer state variable.

        ``initializer`` is ``'zeros'``, ``'ones'``, a number (a constant) or a callable
        ``(shape, dtype) -> array``.
        """
        shape = tuple(int(s) for s in shape)
        dtype = np.dtype(dtype or K.floatx())
        if isinstance(initializer, str) and initializer in ("zeros", "ones"):
            value = (np.zeros if initializer == "zeros" else np.ones)(shape, dtype)
        elif _is_number(initializer):
            value = np.full(shape, initializer, dtype)
        elif callable(initializer):
            value = np.asarray(value_of(initializer(shape, dtype)), dtype)
        else:
            raise ValueError("`initializer` must be 'zeros', 'ones', a number or a callable "
                             f"(shape, dtype) -> array. Received: initializer={initializer!r}")
        return self._own_variable(value, name or "variable", dtype)

    def add_variable_from_reference(self, reference_variable: Variable, name: str | None = None,
                                    initializer: Any = "zeros") -> Variable:
        """Create a slot with the shape and dtype of ``reference_variable``."""
        prefix = str(getattr(reference_variable, "path", reference_variable.name))
        return self.add_variable(reference_variable.shape, initializer, reference_variable.dtype,
                                 f"{prefix.replace('/', '_')}_{name or 'var'}")

    def add_optimizer_variables(self, variables: Iterable[Variable], name: str,
                                initializer: Any = "zeros") -> list:
        """One slot per variable (see :meth:`add_variable_from_reference`)."""
        return [self.add_variable_from_reference(v, name, initializer) for v in variables]

    def build(self, variables: Sequence[Variable]) -> None:
        """Register ``variables`` and create their slots (called lazily by :meth:`apply`).

        Subclasses call ``super().build(variables)`` first, then append their slots to lists
        indexed by :meth:`_get_variable_index`. Later calls add variables not seen before.
        """
        variables = [v for v in variables if id(v) not in self._index]
        for v in variables:
            self._index[id(v)] = len(self._trainable_variables)
            self._trainable_variables.append(v)
        if self.use_ema:
            self._ema_averages += self.add_optimizer_variables(variables, "average")
        if self.gradient_accumulation_steps:
            self._accumulators += self.add_optimizer_variables(variables, "gradient_accumulator")
        self.built = True

    def _get_variable_index(self, variable: Variable) -> int:
        return self._index[id(variable)]

    def exclude_from_weight_decay(self, var_list: Iterable[Variable] | None = None,
                                  var_names: Iterable[str] | None = None) -> None:
        """Exclude variables (by object, or by a substring of their name) from weight decay."""
        if self.built:
            raise ValueError("`exclude_from_weight_decay()` can only be configured before "
                             "the optimizer is built.")
        self._wd_excluded_ids = {id(v) for v in var_list or ()}
        names = list(var_names or ())
        self._wd_excluded_pattern = re.compile("|".join(map(re.escape, names))) if names else None

    def _uses_weight_decay(self, variable: Variable) -> bool:
        if self.weight_decay is None or id(variable) in self._wd_excluded_ids:
            return False
        pattern = self._wd_excluded_pattern
        return pattern is None or pattern.search(variable.name) is None

    # -- the step -------------------------------------------------------------------------------
    def scale_loss(self, loss: Any) -> Any:
        """Multiply the loss by ``loss_scale_factor`` (identity when it is None)."""
        return loss if self.loss_scale_factor is None else loss * self.loss_scale_factor

    def apply_gradients(self, grads_and_vars: Iterable[tuple]) -> Variable:
        """Apply ``(gradient, variable)`` pairs; returns ``iterations``."""
        pairs = list(grads_and_vars)
        if pairs:
            grads, variables = zip(*pairs)
            self.apply(list(grads), list(variables))
        return self._iterations

    def apply(self, grads: Sequence[Any], trainable_variables: Sequence[Variable] | None = None
              ) -> None:
        """Update ``trainable_variables`` in place from ``grads`` (one per variable).

        Gradients that are None are skipped with a warning. Without ``trainable_variables``
        the variables the optimizer was built with are used.
        """
        grads = list(grads)
        if not grads:
            return
        if trainable_variables is None:
            if not self.built:
                raise ValueError(
                    "When passing `grads` without `variables`, the optimizer must already be "
                    "built on a list of variables. Call `optimizer.build(trainable_variables)` "
                    "first.")
            variables = list(self._trainable_variables)
        else:
            variables = list(trainable_variables)
            for v in variables:
                if not isinstance(v, Variable):
                    raise TypeError("`trainable_variables` must be fastkeras Variables. "
                                    f"Received: {type(v).__name__}")
            new = [v for v in variables if id(v) not in self._index]
            if new:
                self.build(new)
                unknown = [v.path for v in new if id(v) not in self._index]
                if unknown:
                    raise ValueError(
                        f"Unknown variable: {unknown[0]}. This optimizer can only be called for "
                        "the variables it was originally built with. When working with a new "
                        "set of variables, you should recreate a new optimizer instance.")
        if len(grads) != len(variables):
            raise ValueError(f"Received {len(grads)} gradients for {len(variables)} variables; "
                             "`grads` must match the variables one-to-one.")
        grads, variables = self._filter_empty_gradients(grads, variables)
        unscale = 1.0 if self.loss_scale_factor is None else 1.0 / self.loss_scale_factor

        steps = self.gradient_accumulation_steps
        if steps:
            accs = [self._accumulators[self._get_variable_index(v)] for v in variables]
            if (int(self._iterations.value) + 1) % steps == 0:
                dt = [v.dtype.type for v in variables]
                grads = [(g * d(unscale) + a.value) / d(steps)
                         for g, a, d in zip(grads, accs, dt)]
                self._update(grads, variables, 1.0)
                for a in accs:
                    a.value[...] = 0
            else:
                for g, a in zip(grads, accs):
                    a.value += g * a.dtype.type(unscale)
        else:
            self._update(grads, variables, unscale)

        if self.use_ema:
            self._update_moving_averages()
        for v in variables:
            if v.constraint is not None:
                v.assign(v.constraint(v.value))
        self._iterations.value += 1

    def _filter_empty_gradients(self, grads: list, variables: list) -> tuple[list, list]:
        kept_g, kept_v, missing = [], [], []
        for g, v in zip(grads, variables):
            if g is None:
                missing.append(v.path)
                continue
            if v.dtype not in (np.float32, np.float64):
                raise TypeError(f"Optimizers update float32 or float64 variables; variable "
                                f"'{v.path}' has dtype {v.dtype}.")
            arr = np.asarray(value_of(g))
            if arr.shape != v.shape:
                raise ValueError(f"The gradient for variable '{v.path}' has shape {arr.shape}, "
                                 f"but the variable has shape {v.shape}.")
            if arr.dtype.kind not in "fiu":
                raise TypeError(f"The gradient for variable '{v.path}' must be numeric; "
                                f"received dtype {arr.dtype}.")
            kept_g.append(np.ascontiguousarray(arr, dtype=v.dtype))
            kept_v.append(v)
        if not kept_g:
            raise ValueError("No gradients provided for any variable.")
        if missing:
            warnings.warn(f"Gradients do not exist for variables {missing} when minimizing the "
                          "loss. If using `model.compile()`, did you forget to provide a `loss` "
                          "argument?", stacklevel=3)
        return kept_g, kept_v

    def _update(self, grads: list, variables: list, unscale: float) -> None:
        """Clip, decay and update every variable; ``unscale`` multiplies the raw gradients."""
        lr = self._step_learning_rate()
        if self.clipnorm:
            scales = [unscale * self.clipnorm / np.maximum(np.sqrt(float(np.dot(
                g.ravel(), g.ravel()))) * unscale, self.clipnorm) for g in grads]
        elif self.global_clipnorm:
            total = math.fsum(float(np.dot(g.ravel(), g.ravel())) for g in grads)
            norm = np.sqrt(total) * unscale
            with np.errstate(divide="ignore", invalid="ignore"):
                factor = self.global_clipnorm * np.minimum(1.0 / norm, 1.0 / self.global_clipnorm)
            scales = [unscale * (factor + (norm - norm))] * len(grads)
        else:
            scales = [unscale] * len(grads)
        clip = self.clipvalue if self.clipvalue else math.inf
        for g, v, s in zip(grads, variables, scales):
            dt = v.dtype.type
            decay = (dt(1) - dt(self.weight_decay) * dt(lr) if self._uses_weight_decay(v)
                     else dt(1))
            self._step(v, g, dt(lr), dt(s), dt(clip), decay)

    def _step(self, variable: Variable, gradient: np.ndarray, lr: np.floating,
              gscale: np.floating, clip: np.floating, decay: np.floating) -> None:
        """One variable's update. Built-in optimizers do all of it in one fused kernel."""
        g = gradient * gscale if gscale != 1 else gradient
        if np.isfinite(clip):
            g = np.clip(g, -clip, clip)
        if decay != 1:
            variable.value *= decay
        self.update_step(g, variable, lr)

    def update_step(self, gradient: np.ndarray, variable: Variable, learning_rate: float) -> None:
        """Update ``variable`` (in place) from an already clipped ``gradient``."""
        raise NotImplementedError(
            f"{type(self).__name__} must implement `update_step(gradient, variable, "
            "learning_rate)` to be used as an optimizer.")

    @staticmethod
    def assign(variable: Variable, value: Any) -> None:
        """Write ``value`` into ``variable`` in place."""
        variable.assign(value)

    @staticmethod
    def assign_add(variable: Variable, value: Any) -> None:
        """Add ``value`` to ``variable`` in place."""
        variable.value += value_of(value)

    @staticmethod
    def assign_sub(variable: Variable, value: Any) -> None:
        """Subtract ``value`` from ``variable`` in place."""
        variable.value -= value_of(value)

    def _update_moving_averages(self) -> None:
        for var, avg in zip(self._trainable_variables, self._ema_averages):
            dt = var.dtype.type
            momentum = dt(self.ema_momentum) if self._steps_done() != 0 else dt(0)
            avg.value *= momentum
            avg.value += (dt(1) - momentum) * var.value
        freq = self.ema_overwrite_frequency
        if freq and (self._steps_done() + 1) % freq == 0:
            self.finalize_variable_values(self._trainable_variables)

    def finalize_variable_values(self, var_list: Sequence[Variable]) -> None:
        """With ``use_ema``, overwrite the variables with their moving averages."""
        if self.use_ema:
            for var in var_list:
                var.assign(self._ema_averages[self._get_variable_index(var)].value)

    # -- weights and config ---------------------------------------------------------------------
    def get_weights(self) -> list:
        """Copies of :attr:`variables`' values."""
        return [v.numpy() for v in self._variables]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Set :attr:`variables` from a list of arrays (as returned by :meth:`get_weights`)."""
        if not self.built:
            raise ValueError(
                "You are calling `set_weights()` on an optimizer that has not yet been built. "
                "Please call `optimizer.build(trainable_variables)` to create the optimizer "
                "weights before calling `set_weights()`.")
        weights = list(weights)
        if len(weights) != len(self._variables):
            raise ValueError(f"Optimizer '{self.name}' has {len(self._variables)} variables; "
                             f"received {len(weights)} weights.")
        for var, w in zip(self._variables, weights):
            if np.shape(w) != var.shape:
                raise ValueError(f"Optimizer variable {var.path} has shape {var.shape} not "
                                 f"compatible with provided weight shape {np.shape(w)}.")
            var.assign(w)

    def get_config(self) -> dict:
        """The constructor arguments (Keras 3 keys; ``decay`` only when set)."""
        if isinstance(self._learning_rate, Variable):
            learning_rate: Any = float(self._learning_rate.value)
        elif hasattr(self._learning_rate, "get_config"):
            learning_rate = {"module": type(self._learning_rate).__module__,
                             "class_name": type(self._learning_rate).__name__,
                             "config": self._learning_rate.get_config(),
                             "registered_name": None}
        else:
            learning_rate = self._learning_rate
        config = {"name": self.name, "learning_rate": learning_rate}
        config.update({key: getattr(self, key) for key in _COMMON_KEYS})
        if self.decay:
            config["decay"] = self.decay
        return config

    @classmethod
    def from_config(cls, config: dict, custom_objects: dict | None = None) -> "Optimizer":
        """Rebuild an optimizer from :meth:`get_config`'s output."""
        config = dict(config)
        lr = config.get("learning_rate")
        if isinstance(lr, dict):
            schedule_cls = (custom_objects or {}).get(lr.get("class_name"))
            if schedule_cls is None:
                raise ValueError(
                    f"Cannot deserialize the learning rate schedule {lr.get('class_name')!r}: "
                    "pass its class in `custom_objects`.")
            config["learning_rate"] = schedule_cls.from_config(lr.get("config", {}))
        return cls(**config)


def _epsilon(value: float | None) -> float:
    return K.epsilon() if value is None else _check_number("epsilon", value)


class SGD(Optimizer):
    """Gradient descent, optionally with (Nesterov) momentum.

    ``w -= lr*g``; with momentum ``v = momentum*v - lr*g`` then ``w += v``, or with Nesterov
    ``w += momentum*v - lr*g``.

    Parameters
    ----------
    learning_rate : float or callable
        Default 0.01.
    momentum : float
        A float in [0, 1]; default 0.0 (no velocity slot is created).
    nesterov : bool
        Use Nesterov momentum.
    **kwargs
        The common arguments of :class:`Optimizer`.
    """

    def __init__(self, learning_rate: Any = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 **kwargs: Any):
        super().__init__(learning_rate=learning_rate, **kwargs)
        if not isinstance(momentum, float) or not 0.0 <= momentum <= 1.0:
            raise ValueError("`momentum` must be a float between [0, 1].")
        self.momentum = momentum
        self.nesterov = bool(nesterov)
        self.momentums: list[Variable] = []

    def build(self, variables: Sequence[Variable]) -> None:
        """Create a ``momentum`` slot per variable when momentum is used."""
        new = [v for v in variables if id(v) not in self._index]
        super().build(new)
        if self.momentum != 0:
            self.momentums += self.add_optimizer_variables(new, "momentum")

    def _step(self, variable, gradient, lr, gscale, clip, decay):
        w, g = _flat(variable), gradient.reshape(-1)
        if self.momentum != 0:
            v = self.momentums[self._get_variable_index(variable)].value.reshape(-1)
            kernels.sgd_momentum_step(w, g, v, gscale, clip, decay, lr,
                                      variable.dtype.type(self.momentum), self.nesterov)
        else:
            kernels.sgd_step(w, g, gscale, clip, decay, lr)

    def update_step(self, gradient: np.ndarray, variable: Variable, learning_rate: float) -> None:
        """Apply the SGD update to one variable (no clipping or weight decay)."""
        dt = variable.dtype.type
        grad = np.ascontiguousarray(gradient, dtype=variable.dtype)
        self._step(variable, grad, dt(learning_rate), dt(1), dt(math.inf), dt(1))

    def get_config(self) -> dict:
        """Base config plus ``momentum`` and ``nesterov``."""
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam: adaptive moment estimation, optionally AMSGrad.

    ``m = b1*m + (1-b1)*g``, ``v = b2*v + (1-b2)*g^2``,
    ``w -= lr*sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(v) + epsilon)`` with ``t`` the step number.

    Parameters
    ----------
    learning_rate : float or callable
        Default 0.001.
    beta_1, beta_2 : float
        Decay rates of the first and second moments (0.9, 0.999).
    epsilon : float
        Added to ``sqrt(v)``; default 1e-7 (``None``: the backend epsilon, as in Keras 2).
    amsgrad : bool
        Divide by the running maximum of ``v``.
    **kwargs
        The common arguments of :class:`Optimizer`.
    """

    def __init__(self, learning_rate: Any = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float | None = 1e-7, amsgrad: bool = False, **kwargs: Any):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1 = _check_number("beta_1", beta_1, high=1.0)
        self.beta_2 = _check_number("beta_2", beta_2, high=1.0)
        self.epsilon = _epsilon(epsilon)
        self.amsgrad = bool(amsgrad)
        self._momentums: list[Variable] = []
        self._velocities: list[Variable] = []
        self._velocity_hats: list[Variable] = []

    def build(self, variables: Sequence[Variable]) -> None:
        """Create ``momentum`` and ``velocity`` slots (and ``velocity_hat`` with AMSGrad)."""
        new = [v for v in variables if id(v) not in self._index]
        super().build(new)
        for v in new:
            self._momentums.append(self.add_variable_from_reference(v, "momentum"))
            self._velocities.append(self.add_variable_from_reference(v, "velocity"))
        if self.amsgrad:
            self._velocity_hats += self.add_optimizer_variables(new, "velocity_hat")

    def _step(self, variable, gradient, lr, gscale, clip, decay):
        dt = variable.dtype.type
        i = self._get_variable_index(variable)
        t = dt(self._steps_done() + 1)
        alpha = lr * np.sqrt(dt(1) - dt(self.beta_2) ** t) / (dt(1) - dt(self.beta_1) ** t)
        m = self._momentums[i].value.reshape(-1)
        v = self._velocities[i].value.reshape(-1)
        v_hat = self._velocity_hats[i].value.reshape(-1) if self.amsgrad else v
        kernels.adam_step(_flat(variable), gradient.reshape(-1), m, v, v_hat, gscale, clip,
                          decay, alpha, dt(self.beta_1), dt(1 - self.beta_1), dt(self.beta_2),
                          dt(1 - self.beta_2), dt(self.epsilon), self.amsgrad)

    def update_step(self, gradient: np.ndarray, variable: Variable, learning_rate: float) -> None:
        """Apply the Adam update to one variable (no clipping or weight decay)."""
        dt = variable.dtype.type
        grad = np.ascontiguousarray(gradient, dtype=variable.dtype)
        self._step(variable, grad, dt(learning_rate), dt(1), dt(math.inf), dt(1))

    def get_config(self) -> dict:
        """Base config plus ``beta_1``, ``beta_2``, ``epsilon``, ``amsgrad``."""
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}


class RMSprop(Optimizer):
    """RMSprop: divide the gradient by a running root mean square.

    ``v = rho*v + (1-rho)*g^2``; ``delta = lr*g / sqrt(v + epsilon)`` (centered:
    ``sqrt(v - a^2 + epsilon)`` with ``a`` the running mean gradient); with momentum
    ``mom = momentum*mom + delta`` and ``w -= mom``, else ``w -= delta``.

    Parameters
    ----------
    learning_rate : float or callable
        Default 0.001.
    rho : float
        Discount of the running averages (0.9).
    momentum : float
        Default 0.0 (no momentum slot).
    epsilon : float
        Added inside the square root; default 1e-7.
    centered : bool
        Normalise by the estimated variance instead of the second moment.
    **kwargs
        The common arguments of :class:`Optimizer`.
    """

    def __init__(self, learning_rate: Any = 0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float | None = 1e-7, centered: bool = False, **kwargs: Any):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rho = _check_number("rho", rho, high=1.0)
        self.momentum = _check_number("momentum", momentum)
        self.epsilon = _epsilon(epsilon)
        self.centered = bool(centered)
        self._velocities: list[Variable] = []
        self._momentums: list[Variable] = []
        self._average_gradients: list[Variable] = []

    def build(self, variables: Sequence[Variable]) -> None:
        """Create ``velocity`` slots, plus ``momentum`` and ``average_gradient`` when used."""
        new = [v for v in variables if id(v) not in self._index]
        super().build(new)
        self._velocities += self.add_optimizer_variables(new, "velocity")
        if self.momentum > 0:
            self._momentums += self.add_optimizer_variables(new, "momentum")
        if self.centered:
            self._average_gradients += self.add_optimizer_variables(new, "average_gradient")

    def _step(self, variable, gradient, lr, gscale, clip, decay):
        dt = variable.dtype.type
        i = self._get_variable_index(variable)
        v = self._velocities[i].value.reshape(-1)
        mom = self._momentums[i].value.reshape(-1) if self.momentum > 0 else v
        avg = self._average_gradients[i].value.reshape(-1) if self.centered else v
        kernels.rmsprop_step(_flat(variable), gradient.reshape(-1), v, avg, mom, gscale, clip,
                             decay, lr, dt(self.rho), dt(1 - self.rho), dt(self.momentum),
                             dt(self.epsilon), self.centered, self.momentum > 0)

    def update_step(self, gradient: np.ndarray, variable: Variable, learning_rate: float) -> None:
        """Apply the RMSprop update to one variable (no clipping or weight decay)."""
        dt = variable.dtype.type
        grad = np.ascontiguousarray(gradient, dtype=variable.dtype)
        self._step(variable, grad, dt(learning_rate), dt(1), dt(math.inf), dt(1))

    def get_config(self) -> dict:
        """Base config plus ``rho``, ``momentum``, ``epsilon``, ``centered``."""
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}


class Adagrad(Optimizer):
    """Adagrad: per-parameter rates from the accumulated squared gradients.

    ``acc += g^2``; ``w -= lr*g / sqrt(acc + epsilon)``.

    Parameters
    ----------
    learning_rate : float or callable
        Default 0.001.
    initial_accumulator_value : float
        Starting value of the accumulators (0.1).
    epsilon : float
        Added inside the square root; default 1e-7.
    **kwargs
        The common arguments of :class:`Optimizer`.
    """

    def __init__(self, learning_rate: Any = 0.001, initial_accumulator_value: float = 0.1,
                 epsilon: float | None = 1e-7, **kwargs: Any):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.initial_accumulator_value = _check_number("initial_accumulator_value",
                                                       initial_accumulator_value)
        self.epsilon = _epsilon(epsilon)
        self._accumulator_slots: list[Variable] = []

    def build(self, variables: Sequence[Variable]) -> None:
        """Create an ``accumulator`` slot per variable, filled with the initial value."""
        new = [v for v in variables if id(v) not in self._index]
        super().build(new)
        self._accumulator_slots += self.add_optimizer_variables(
            new, "accumulator", self.initial_accumulator_value)

    def _step(self, variable, gradient, lr, gscale, clip, decay):
        dt = variable.dtype.type
        acc = self._accumulator_slots[self._get_variable_index(variable)].value.reshape(-1)
        kernels.adagrad_step(_flat(variable), gradient.reshape(-1), acc, gscale, clip, decay,
                             lr, dt(self.epsilon))

    def update_step(self, gradient: np.ndarray, variable: Variable, learning_rate: float) -> None:
        """Apply the Adagrad update to one variable (no clipping or weight decay)."""
        dt = variable.dtype.type
        grad = np.ascontiguousarray(gradient, dtype=variable.dtype)
        self._step(variable, grad, dt(learning_rate), dt(1), dt(math.inf), dt(1))

    def get_config(self) -> dict:
        """Base config plus ``initial_accumulator_value`` and ``epsilon``."""
        return {**super().get_config(),
                "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


# Keras 2 lower-case aliases.
sgd = SGD
adam = Adam
rmsprop = RMSprop
adagrad = Adagrad

_BUILTINS = {cls.__name__.lower(): cls for cls in (SGD, Adam, RMSprop, Adagrad)}


def serialize(optimizer: Optimizer) -> dict:
    """Return ``{'module', 'class_name', 'config', 'registered_name'}`` for ``optimizer``."""
    return {"module": "keras.optimizers", "class_name": type(optimizer).__name__,
            "config": optimizer.get_config(), "registered_name": None}


def deserialize(config: dict, custom_objects: dict | None = None) -> Optimizer:
    """Rebuild an optimizer from :func:`serialize`'s output (or a Keras 2 ``class_name`` dict)."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Could not interpret optimizer identifier: {config}. "
                         f"Valid names: {sorted(_BUILTINS)}")
    name = config["class_name"]
    cls = (custom_objects or {}).get(name) or _BUILTINS.get(str(name).lower())
    if cls is None:
        raise ValueError(f"Could not interpret optimizer identifier: {name}. "
                         f"Valid names: {sorted(_BUILTINS)}")
    return cls.from_config(config.get("config") or {}, custom_objects)


def get(identifier: Any) -> Optimizer | None:
    """Return an optimizer for a name (``'adam'``, ``'Adam'``), a config dict or an instance."""
    if identifier is None or isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        return deserialize({"class_name": identifier, "config": {}})
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise ValueError(f"Could not interpret optimizer identifier: {identifier}. "
                     f"Valid names: {sorted(_BUILTINS)}")
