"""CUDA twin of :func:`fastkeras.kernels.resample.affine_batch`: a whole augmented batch.

Same arguments, codes, flags and order of operations as the CPU kernel (``spec/image.md``
§3-§5): affine resampling at spline order 0 or 1 with scipy.ndimage's fill modes, flips, channel
shift, brightness, rescale and the samplewise and featurewise ``standardize`` steps, each rounded
in the output's dtype where Keras rounds it. ``x`` and ``out`` are device arrays; the per-image
parameters (matrices, flags, shift, brightness) are small host arrays, copied over per call;
``mean`` and ``std`` may be either (keep them on the device across batches).

The work is a few element-parallel kernels:

1. one thread per output pixel: the taps and weights of its coordinate (scipy's boundary rules),
   the interpolation of every channel, and, for images with no channel shift or brightness, the
   rest of the chain up to the samplewise steps;
2. only for images with a channel shift or brightness: each image's min/max (one block per
   image), then the chain from the channel shift on, one thread per element;
3. only with a samplewise step: each row's moments about its first value (one block per row),
   combined per image as the CPU kernel combines them, then the samplewise and featurewise
   steps, one thread per element.

Results agree with the CPU kernel within float32 rounding: the GPU compiler may fuse a product
and a sum into one rounding, and block reductions sum in another order.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np
from numba import cuda

from fastkeras.kernels import resample as cpu
from fastkeras.kernels.cuda.launch import (FLOAT_DTYPES, blocks, device_array, grid, host_array,
                                           is_device_array, row_threads, span)

_CONSTANT, _NEAREST, _REFLECT, _WRAP, _MIRROR, _GRID_CONSTANT, _GRID_WRAP = range(7)
_AFFINE, _FLIP_H, _FLIP_V = cpu.AFFINE, cpu.FLIP_H, cpu.FLIP_V
_CHANNEL_SHIFT, _BRIGHTNESS = cpu.CHANNEL_SHIFT, cpu.BRIGHTNESS
_RESCALE, _SAMPLE_CENTER, _SAMPLE_STD = cpu.RESCALE, cpu.SAMPLE_CENTER, cpu.SAMPLE_STD
_FEATURE_CENTER, _FEATURE_STD = cpu.FEATURE_CENTER, cpu.FEATURE_STD
_NEEDS_MINMAX = _CHANNEL_SHIFT | _BRIGHTNESS
_SAMPLEWISE = _SAMPLE_CENTER | _SAMPLE_STD
_FEATUREWISE = _FEATURE_CENTER | _FEATURE_STD
_EPSILON = 1e-6  # standardize's literal epsilon (spec §5)
_EPS32 = np.float32(_EPSILON)
_F0 = np.float32(0.0)
_F1 = np.float32(1.0)
_F255 = np.float32(255.0)
_MAX_COORDINATE = 2.0**52
_INPUT_DTYPES = (np.dtype(np.uint8), np.dtype(np.float32), np.dtype(np.float64))
_REDUCE_THREADS = 256  # most threads of the per-image and per-row reductions (a power of two)


# -- scipy.ndimage's boundary rules, one axis at a time (as the CPU kernel's) --------------------

@cuda.jit(device=True, inline=True)
def _fold_coordinate(c, n, mode):
    """Map a coordinate outside ``[0, n-1]`` back inside; -1 for ``constant`` outside."""
    if c < 0.0:
        if mode == _CONSTANT:
            return -1.0
        if n <= 1:
            return 0.0
        if mode == _REFLECT:
            sz2 = 2 * n
            if c < -sz2:
                c = sz2 * int(-c / sz2) + c
            if c < -n:
                return c + sz2
            if c > -1e-15:  # keeps -c - 1 from landing exactly on -1
                return 1e-15 - 1.0
            return -c - 1.0
        if mode == _MIRROR:
            sz2 = 2 * n - 2
            c = sz2 * int(-c / sz2) + c
            if c <= 1 - n:
                return c + sz2
            return -c
        if mode == _WRAP:
            sz = n - 1
            return c + sz * (int(-c / sz) + 1)
        return c + n * (int((-1.0 - c) / n) + 1)  # grid-wrap
    if c > n - 1:
        if mode == _CONSTANT:
            return -1.0
        if n <= 1:
            return 0.0
        if mode == _REFLECT:
            sz2 = 2 * n
            c -= sz2 * int(c / sz2)
            if c >= n:
                return sz2 - c - 1.0
            return c
        if mode == _MIRROR:
            sz2 = 2 * n - 2
            c -= sz2 * int(c / sz2)
            if c >= n:
                return sz2 - c
            return c
        if mode == _WRAP:
            sz = n - 1
            return c - sz * int(c / sz)
        return c - n * int(c / n)  # grid-wrap
    return c


@cuda.jit(device=True, inline=True)
def _fold_tap(i, n, mode):
    """Fold an integer tap index into ``[0, n-1]`` (scipy folds constant and wrap as mirror)."""
    if 0 <= i < n:
        return i
    if n <= 1:
        return 0
    if mode == _NEAREST:
        return 0 if i < 0 else n - 1
    if mode == _REFLECT:
        sz2 = 2 * n
        if i < 0:
            if i < -sz2:
                i += sz2 * ((-i) // sz2)
            return i + sz2 if i < -n else -i - 1
        i -= sz2 * (i // sz2)
        return sz2 - i - 1 if i >= n else i
    if mode == _GRID_WRAP:
        if i < 0:
            return i + n * ((-1 - i) // n + 1)
        return i - n * (i // n)
    sz2 = 2 * n - 2  # mirror rule: mirror, constant, wrap
    if i < 0:
        i += sz2 * ((-i) // sz2)
        return i + sz2 if i <= 1 - n else -i
    i -= sz2 * (i // sz2)
    return sz2 - i if i >= n else i


@cuda.jit(device=True, inline=True)
def _axis_taps(c, n, mode, order):
    """``(inside, i0, i1, w0, w1, cval0, cval1)`` of coordinate ``c`` on an axis of length n."""
    if mode != _NEAREST and mode != _GRID_CONSTANT:
        c = _fold_coordinate(c, n, mode)
        if not c > -1.0:
            return False, 0, 0, 0.0, 0.0, False, False
    if order == 1:
        start = int(math.floor(c))
        w0 = 1.0 - (c - start)
        w1 = 1.0 - w0
    else:
        start = int(math.floor(c + 0.5))
        w0 = 1.0
        w1 = 0.0
    if mode == _GRID_CONSTANT:
        out0 = start < 0 or start >= n
        out1 = start + 1 < 0 or start + 1 >= n
        return True, 0 if out0 else start, 0 if out1 else start + 1, w0, w1, out0, out1
    return True, _fold_tap(start, n, mode), _fold_tap(start + 1, n, mode), w0, w1, False, False


# -- element addressing -------------------------------------------------------------------------

@cuda.jit(device=True, inline=True)
def _offset(r, c, ch, H, W, C, channels_first):
    """Offset of pixel (r, c), channel ch, inside one image."""
    if channels_first:
        return (ch * H + r) * W + c
    return (r * W + c) * C + ch


@cuda.jit(device=True, inline=True)
def _channel(e, H, W, C, channels_first):
    """Channel of the element at offset ``e`` inside one image."""
    if channels_first:
        return e // (H * W)
    return e % C


# -- the pointwise steps, each in the output's dtype --------------------------------------------

@cuda.jit(device=True, inline=True)
def _feature(v, f, post, mean, std):
    """Featurewise ``v -= mean`` then ``v /= (std + float32(1e-6))`` (float32 statistics)."""
    if post & _FEATURE_CENTER:
        v = v - mean[f]
    if post & _FEATURE_STD:
        v = v / (std[f] + _EPS32)
    return v


@cuda.jit(device=True, inline=True)
def _brightness(v, channel, C, b, m, mx, zero):
    """Keras 3's brightness shift (spec §3.4) of one value, with the image's min and max."""
    stretch = m < 0 or mx > 255
    m32 = np.float32(m)
    ymax = np.float32(mx) - m32
    if ymax == 0:
        ymax = _F1  # Keras skips the division when the range is empty
    b32 = np.float32(b)  # PIL's blend takes the factor as a C float
    v32 = np.float32(v)
    if stretch:
        q = np.int64(((v32 - m32) / ymax) * _F255)
    else:
        q = np.int64(v32)
    res = np.int64(min(max(b32 * np.float32(q), _F0), _F255))
    if C == 4 and channel == 3:
        res = q  # alpha is not blended
    if stretch:
        return (np.float32(res) / _F255) * (mx - m) + m
    return np.float32(res) + zero


# -- kernels ------------------------------------------------------------------------------------

@cuda.jit(cache=True)
def _resample_kernel(x, src, out, matrices, flags, mode, cval, order, post, scale, mean, std,
                     channels_first, int_out):
    """Pass 1: one thread per output pixel, all channels (output image ``n`` from input image
    ``src[n]``)."""
    N = out.shape[0]
    if channels_first:
        C, H, W = out.shape[1], out.shape[2], out.shape[3]
    else:
        H, W, C = out.shape[1], out.shape[2], out.shape[3]
    img = H * W * C
    xf = x.reshape(x.size)
    of = out.reshape(out.size)
    samplewise = (post & _SAMPLEWISE) != 0
    for t in range(cuda.grid(1), N * H * W, cuda.gridsize(1)):
        n = t // (H * W)
        r = (t // W) % H
        c = t % W
        fl = flags[n]
        rr = H - 1 - r if fl & _FLIP_V else r
        cc = W - 1 - c if fl & _FLIP_H else c
        ibase = n * img
        sbase = src[n] * img
        chain = not (fl & _NEEDS_MINMAX) and post != 0
        okr = okc = vr0 = vr1 = vc0 = vc1 = False
        r0 = r1 = c0 = c1 = 0
        wr0 = wr1 = wc0 = wc1 = 0.0
        if fl & _AFFINE:
            # Output pixel (r, c) reads the input at (off + r*A[:, 0]) + c*A[:, 1], as scipy.
            rin = (matrices[n, 0, 2] + rr * matrices[n, 0, 0]) + cc * matrices[n, 0, 1]
            cin = (matrices[n, 1, 2] + rr * matrices[n, 1, 0]) + cc * matrices[n, 1, 1]
            okr, r0, r1, wr0, wr1, vr0, vr1 = _axis_taps(rin, H, mode, order)
            okc, c0, c1, wc0, wc1, vc0, vc1 = _axis_taps(cin, W, mode, order)
        for ch in range(C):
            e = _offset(r, c, ch, H, W, C, channels_first)
            if not fl & _AFFINE:
                of[ibase + e] = xf[sbase + _offset(rr, cc, ch, H, W, C, channels_first)]
            else:
                if not (okr and okc):
                    acc = cval
                else:
                    p00 = sbase + _offset(r0, c0, ch, H, W, C, channels_first)
                    v00 = cval if vr0 or vc0 else float(xf[p00])
                    acc = 0.0
                    if order == 0:
                        acc += v00
                    else:
                        p01 = sbase + _offset(r0, c1, ch, H, W, C, channels_first)
                        p10 = sbase + _offset(r1, c0, ch, H, W, C, channels_first)
                        p11 = sbase + _offset(r1, c1, ch, H, W, C, channels_first)
                        v01 = cval if vr0 or vc1 else float(xf[p01])
                        v10 = cval if vr1 or vc0 else float(xf[p10])
                        v11 = cval if vr1 or vc1 else float(xf[p11])
                        acc += (v00 * wr0) * wc0
                        acc += (v01 * wr0) * wc1
                        acc += (v10 * wr1) * wc0
                        acc += (v11 * wr1) * wc1
                if int_out:  # scipy's rounding to an integer output: + 0.5, saturate, cut
                    acc = min(max(acc + 0.5, 0.0), 255.0)
                of[ibase + e] = acc
            if chain:
                v = of[ibase + e]
                if post & _RESCALE:
                    v = v * scale
                if not samplewise:
                    v = _feature(v, e, post, mean, std)
                of[ibase + e] = v


@cuda.jit(cache=True)
def _minmax_kernel(out, flags, lo, hi):
    """Min and max of each image with a channel shift or brightness: one block per image."""
    buf_lo = cuda.shared.array(_REDUCE_THREADS, np.float64)
    buf_hi = cuda.shared.array(_REDUCE_THREADS, np.float64)
    N = out.shape[0]
    img = out.size // N if N else 0
    of = out.reshape(out.size)
    t = cuda.threadIdx.x
    for n in range(cuda.blockIdx.x, N, cuda.gridDim.x):
        if not flags[n] & _NEEDS_MINMAX:
            continue
        first = float(of[n * img])
        m = first
        mx = first
        for e in range(t, img, cuda.blockDim.x):
            v = float(of[n * img + e])
            m = v if v < m else m
            mx = v if v > mx else mx
        buf_lo[t] = m
        buf_hi[t] = mx
        cuda.syncthreads()
        half = cuda.blockDim.x // 2
        while half > 0:
            if t < half:
                a = buf_lo[t + half]
                buf_lo[t] = a if a < buf_lo[t] else buf_lo[t]
                a = buf_hi[t + half]
                buf_hi[t] = a if a > buf_hi[t] else buf_hi[t]
            cuda.syncthreads()
            half //= 2
        if t == 0:
            lo[n] = buf_lo[0]
            hi[n] = buf_hi[0]
        cuda.syncthreads()


@cuda.jit(cache=True)
def _intensity_kernel(out, flags, lo, hi, shift, bright, post, scale, zero, mean, std,
                      channels_first):
    """Pass 2, per element of the images with a channel shift or brightness."""
    if channels_first:
        C, H, W = out.shape[1], out.shape[2], out.shape[3]
    else:
        H, W, C = out.shape[1], out.shape[2], out.shape[3]
    img = H * W * C
    of = out.reshape(out.size)
    samplewise = (post & _SAMPLEWISE) != 0
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        n = i // img
        fl = flags[n]
        if not fl & _NEEDS_MINMAX:
            continue
        e = i - n * img
        v = of[i]
        m = lo[n]
        mx = hi[n]
        if fl & _CHANNEL_SHIFT:
            d = shift[n]
            v = v + d
            v = m if v < m else v
            v = mx if v > mx else v
            # The image's new min/max, analytically (spec §3.3).
            m = lo[n] + d
            m = lo[n] if m < lo[n] else (hi[n] if m > hi[n] else m)
            mx = hi[n] + d
            mx = lo[n] if mx < lo[n] else (hi[n] if mx > hi[n] else mx)
        if fl & _BRIGHTNESS:
            v = _brightness(v, _channel(e, H, W, C, channels_first), C, bright[n], m, mx, zero)
        if post & _RESCALE:
            v = v * scale
        if not samplewise:
            v = _feature(v, e, post, mean, std)
        of[i] = v


@cuda.jit(cache=True)
def _row_moments_kernel(out, channels_first, rowstats):
    """Each output row's ``(p, S, Q)``: its first value, and the sums of ``v - p`` and
    ``(v - p)**2`` in float64 (one block per row)."""
    buf_s = cuda.shared.array(_REDUCE_THREADS, np.float64)
    buf_q = cuda.shared.array(_REDUCE_THREADS, np.float64)
    N = out.shape[0]
    if channels_first:
        C, H, W = out.shape[1], out.shape[2], out.shape[3]
    else:
        H, W, C = out.shape[1], out.shape[2], out.shape[3]
    img = H * W * C
    of = out.reshape(out.size)
    t = cuda.threadIdx.x
    for row in range(cuda.blockIdx.x, N * H, cuda.gridDim.x):
        n = row // H
        r = row - n * H
        p = float(of[n * img + _offset(r, 0, 0, H, W, C, channels_first)])
        s = 0.0
        q = 0.0
        for e in range(t, W * C, cuda.blockDim.x):
            if channels_first:
                k = _offset(r, e % W, e // W, H, W, C, True)
            else:
                k = r * W * C + e
            d = float(of[n * img + k]) - p
            s += d
            q += d * d
        buf_s[t] = s
        buf_q[t] = q
        cuda.syncthreads()
        half = cuda.blockDim.x // 2
        while half > 0:
            if t < half:
                buf_s[t] += buf_s[t + half]
                buf_q[t] += buf_q[t + half]
            cuda.syncthreads()
            half //= 2
        if t == 0:
            rowstats[row, 0] = p
            rowstats[row, 1] = buf_s[0]
            rowstats[row, 2] = buf_q[0]
        cuda.syncthreads()


@cuda.jit(cache=True)
def _image_moments_kernel(rowstats, H, row_size, eps, smean, sden):
    """Each image's mean and std (+ 1e-6) from its rows' moments, combined row by row as the
    CPU kernel does (Chan et al.), so that a constant image has std exactly 0."""
    N = smean.shape[0]
    count = H * row_size
    for n in range(cuda.grid(1), N, cuda.gridsize(1)):
        total = 0.0
        for r in range(n * H, n * H + H):
            total += row_size * rowstats[r, 0] + rowstats[r, 1]
        mean = total / count
        m2 = 0.0
        for r in range(n * H, n * H + H):
            s = rowstats[r, 1]
            own = max(rowstats[r, 2] - s * s / row_size, 0.0)
            d = rowstats[r, 0] + s / row_size - mean
            m2 += own + row_size * d * d
        smean[n] = mean
        sden[n] = math.sqrt(m2 / count)
        sden[n] = sden[n] + eps


@cuda.jit(cache=True)
def _standardize_kernel(out, post, smean, sden, mean, std):
    """Pass 3, per element: samplewise centre and scale, then the featurewise steps."""
    N = out.shape[0]
    img = out.size // N
    of = out.reshape(out.size)
    for i in range(cuda.grid(1), out.size, cuda.gridsize(1)):
        n = i // img
        v = of[i]
        if post & _SAMPLE_CENTER:
            v = v - smean[n]
        if post & _SAMPLE_STD:
            v = v / sden[n]
        of[i] = _feature(v, i - n * img, post, mean, std)


# -- Python entry point -------------------------------------------------------------------------

_UNUSED_STATS: dict = {}


def _integer(name: str, value: Any) -> int:
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"`{name}` must be an integer; got {type(value).__name__}") from None


def _real(name: str, value: Any) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"`{name}` must be a real number; got {type(value).__name__}")
    return float(value)


def _per_image(name: str, a: Any, dtype: Any, n: int) -> np.ndarray:
    arr = host_array(name, a, dtype)
    if arr.shape != (n,):
        raise ValueError(f"`{name}` must have shape ({n},), one value per image; got {arr.shape}")
    return arr


def _statistics(name: str, a: Any, used: bool, one_image: tuple) -> Any:
    """``mean`` or ``std`` as a flat float32 device array (a stand-in when unused)."""
    on_device = is_device_array(a)
    if not (on_device or isinstance(a, np.ndarray)) or a.dtype != np.float32 or len(a.shape) != 3:
        raise TypeError(f"`{name}` must be a 3-D float32 array")
    if not used:
        if "unused" not in _UNUSED_STATS:
            _UNUSED_STATS["unused"] = cuda.device_array(1, dtype=np.float32)
        return _UNUSED_STATS["unused"]
    if tuple(a.shape) != one_image:
        raise ValueError(f"`{name}` must have the shape of one image {one_image}; "
                         f"got {tuple(a.shape)}")
    if on_device:
        a = device_array(name, a)
        return a.reshape(a.size)
    return cuda.to_device(np.ascontiguousarray(a).reshape(-1))


def affine_batch(x: Any, out: Any, matrices: np.ndarray, flags: np.ndarray, shift: np.ndarray,
                 bright: np.ndarray, mode: int, cval: float, order: int, post: int,
                 rescale: float, mean: Any, std: Any, channels_first: bool,
                 index: np.ndarray | None = None) -> None:
    """Write the whole augmented batch into the device array ``out``. Returns None.

    Same arguments and rules as :func:`fastkeras.kernels.resample.affine_batch`, with ``x``
    and ``out`` C-contiguous device arrays (``out`` float32, float64 or, for the geometric
    stage alone, ``x``'s uint8), ``matrices``, ``flags``, ``shift``, ``bright`` and ``index``
    host arrays, and ``mean`` and ``std`` float32 arrays on the host or the device.

    Raises
    ------
    ValueError, TypeError
        As the CPU kernel does, for arrays or codes of the wrong type, dtype, shape or value.
    """
    x = device_array("x", x, dtypes=_INPUT_DTYPES)
    if len(x.shape) != 4:
        raise ValueError(f"`x` must be a 4-D batch of images; got shape {tuple(x.shape)}")
    src = cpu._source_index(index, x.shape[0])
    shape = (len(src),) + tuple(x.shape[1:])
    out = device_array("out", out, dtypes=FLOAT_DTYPES + (np.dtype(x.dtype),), shape=shape)
    (x0, x1), (o0, o1) = span(x), span(out)
    if x0 < o1 and o0 < x1:
        raise ValueError("`out` must not overlap `x`")
    mode = _integer("mode", mode)
    if mode not in cpu.MODES.values():
        raise ValueError(f"`mode` must be one of the codes in MODES (0-6); got {mode}")
    order = _integer("order", order)
    if order not in (0, 1):
        raise ValueError(f"`order` must be 0 or 1; got {order}")
    post = _integer("post", post)
    if not 0 <= post < 32:
        raise ValueError(f"`post` must be a combination of the standardize bits; got {post}")
    cval = _real("cval", cval)
    rescale = _real("rescale", rescale)
    channels_first = bool(channels_first)
    N = shape[0]
    if channels_first:
        C, H, W = x.shape[1:]
    else:
        H, W, C = x.shape[1:]
    matrices = host_array("matrices", matrices, np.float64)
    if matrices.shape != (N, 2, 3):
        raise ValueError(f"`matrices` must have shape ({N}, 2, 3); got {matrices.shape}")
    flags = _per_image("flags", flags, np.uint8, N)
    shift = _per_image("shift", shift, np.float64, N)
    bright = _per_image("bright", bright, np.float64, N)
    used = matrices[(flags & _AFFINE) != 0]
    with np.errstate(invalid="ignore", over="ignore"):
        reach = (np.abs(used[:, :, 2]) + (H - 1) * np.abs(used[:, :, 0])
                 + (W - 1) * np.abs(used[:, :, 1]))
    if not (reach <= _MAX_COORDINATE).all():
        raise ValueError("`matrices` must be finite and keep every input coordinate within "
                         "2**52 of the origin")
    t = np.dtype(out.dtype)
    int_out = t not in FLOAT_DTYPES
    minmax = (flags & _NEEDS_MINMAX) != 0
    if int_out and (post or minmax.any()):
        raise ValueError(f"an {t} `out` supports only the geometric stage (AFFINE and flips, "
                         "post=0); use a float32 or float64 `out`")
    if (flags & _BRIGHTNESS).any() and C not in (1, 3, 4):
        raise ValueError(f"Unsupported channel number: {C}")
    one_image = tuple(x.shape[1:])
    mean = _statistics("mean", mean, bool(post & _FEATURE_CENTER), one_image)
    std = _statistics("std", std, bool(post & _FEATURE_STD), one_image)
    if out.size == 0:
        return

    scale = t.type(rescale)
    d_flags = cuda.to_device(flags)
    _resample_kernel[grid(N * H * W)](x, cuda.to_device(src), out, cuda.to_device(matrices),
                                      d_flags, mode, cval, order, post, scale, mean, std,
                                      channels_first, int_out)
    if minmax.any():
        lo = cuda.device_array(N, dtype=t)
        hi = cuda.device_array(N, dtype=t)
        _minmax_kernel[blocks(N, 1), row_threads(H * W * C, _REDUCE_THREADS)](out, d_flags, lo,
                                                                              hi)
        _intensity_kernel[grid(out.size)](out, d_flags, lo, hi, cuda.to_device(shift.astype(t)),
                                          cuda.to_device(bright), post, scale, t.type(0.0),
                                          mean, std, channels_first)
    if post & _SAMPLEWISE:
        rowstats = cuda.device_array((N * H, 3), dtype=np.float64)
        _row_moments_kernel[blocks(N * H, 1), row_threads(W * C, _REDUCE_THREADS)](
            out, channels_first, rowstats)
        smean = cuda.device_array(N, dtype=t)
        sden = cuda.device_array(N, dtype=t)
        _image_moments_kernel[grid(N)](rowstats, H, W * C, t.type(_EPSILON), smean, sden)
        _standardize_kernel[grid(out.size)](out, post, smean, sden, mean, std)

