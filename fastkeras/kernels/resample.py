"""Fused per-pixel affine resampling of an image batch, with Keras's augmentation chain.

One :func:`affine_batch` call writes a whole augmented batch: affine resampling at spline order 0
or 1 with scipy.ndimage's fill modes (bit-identical to ``scipy.ndimage.affine_transform`` per
channel plane), flips, channel shift, brightness (Keras 3's generator path) and the
``standardize`` steps (rescale, samplewise and featurewise centring and scaling), in Keras's order
and at Keras's float32 rounding points (``spec/image.md`` §3-§5).

The work is split into output rows, shared out between the threads in contiguous chunks, so
even a single image uses every core:

1. resample each row: the taps and weights of all its pixels in one vectorised loop, then the
   interpolation of every channel from those (pixels whose taps need a fill mode's folding are
   redone by the general path); images that need no min/max go straight on through the
   pointwise chain, the others record the row's min/max. For images larger than
   ``_PREFETCH_BYTES``, the input rows each block of output rows will read are streamed into
   the cache one block ahead;
2. only for images with a channel shift or brightness: the pointwise chain, using the image's
   min/max (the min/max after the channel shift follow analytically, spec §3.3);
3. only when a samplewise step is on: samplewise, then featurewise, steps from the image's mean
   and standard deviation.

Per-row partial sums are reduced in row order, so the result does not depend on the number of
threads. :func:`resample` is the validated single-image entry point.
"""

from __future__ import annotations

import operator

import numba
import numpy as np
import scipy.ndimage
from numba import njit, prange

MODES: dict[str, int] = {
    "constant": 0,
    "nearest": 1,
    "reflect": 2,
    "grid-mirror": 2,
    "wrap": 3,
    "mirror": 4,
    "grid-constant": 5,
    "grid-wrap": 6,
}
_CONSTANT, _NEAREST, _REFLECT, _WRAP, _MIRROR, _GRID_CONSTANT, _GRID_WRAP = range(7)

# Per-image flag bits.
AFFINE, FLIP_H, FLIP_V, CHANNEL_SHIFT, BRIGHTNESS = 1, 2, 4, 8, 16
# Standardize ("post") bits, applied in this order after the transform.
RESCALE, SAMPLE_CENTER, SAMPLE_STD, FEATURE_CENTER, FEATURE_STD = 1, 2, 4, 8, 16

_NEEDS_MINMAX = CHANNEL_SHIFT | BRIGHTNESS
_SAMPLEWISE = SAMPLE_CENTER | SAMPLE_STD
_FEATUREWISE = FEATURE_CENTER | FEATURE_STD
_EPSILON = 1e-6  # standardize's literal epsilon (spec §5)
# Coordinates must stay well inside int64 for the tap arithmetic; beyond 2**52 a float64
# coordinate has no fractional part left, so no meaningful transform needs more.
_MAX_COORDINATE = 2.0**52

# Prefetching (see _touch_rows): images whose input is larger than this many bytes (those that
# do not stay in the L1/L2 caches anyway) have the input rows of the next _PREFETCH_ROWS output
# rows read ahead, _PREFETCH_ROWS at a time.
_PREFETCH_BYTES = 65536
_PREFETCH_ROWS = 8

_INPUT_DTYPES = (np.dtype(np.uint8), np.dtype(np.float32), np.dtype(np.float64))
_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


# --------------------------------------------------------------------------------------------
# scipy.ndimage's boundary rules (spec §4), one axis at a time
# --------------------------------------------------------------------------------------------


@njit(cache=True)
def _fold_coordinate(c, n, mode):
    """Map a coordinate outside ``[0, n-1]`` back inside, as scipy's ``map_coordinate`` does.

    Used for every mode except ``nearest`` and ``grid-constant``. ``constant`` returns -1 for
    outside coordinates, which the caller turns into a cval pixel.
    """
    if c < 0.0:
        if mode == _CONSTANT:
            return -1.0
        if n <= 1:
            return 0.0
        if mode == _REFLECT:
            sz2 = 2 * n
            if c < -sz2:
                c = sz2 * np.int64(-c / sz2) + c
            if c < -n:
                return c + sz2
            if c > -1e-15:  # keeps -c - 1 from landing exactly on -1
                return 1e-15 - 1.0
            return -c - 1.0
        if mode == _MIRROR:
            sz2 = 2 * n - 2
            c = sz2 * np.int64(-c / sz2) + c
            if c <= 1 - n:
                return c + sz2
            return -c
        if mode == _WRAP:
            sz = n - 1
            return c + sz * (np.int64(-c / sz) + 1)
        return c + n * (np.int64((-1.0 - c) / n) + 1)  # grid-wrap
    if c > n - 1:
        if mode == _CONSTANT:
            return -1.0
        if n <= 1:
            return 0.0
        if mode == _REFLECT:
            sz2 = 2 * n
            c -= sz2 * np.int64(c / sz2)
            if c >= n:
                return sz2 - c - 1.0
            return c
        if mode == _MIRROR:
            sz2 = 2 * n - 2
            c -= sz2 * np.int64(c / sz2)
            if c >= n:
                return sz2 - c
            return c
        if mode == _WRAP:
            sz = n - 1
            return c - sz * np.int64(c / sz)
        return c - n * np.int64(c / n)  # grid-wrap
    return c


@njit(cache=True)
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


@njit(cache=True)
def _axis_taps(c, n, mode, order):
    """Taps of coordinate ``c`` on an axis of length ``n``.

    Returns ``(inside, i0, i1, w0, w1, cval0, cval1)``: ``inside`` is False when the whole pixel
    is cval; ``i0, i1`` are in-range indices (``i1`` unused at order 0); ``cval0/1`` mark
    grid-constant taps that read cval instead of a pixel.
    """
    if mode != _NEAREST and mode != _GRID_CONSTANT:
        c = _fold_coordinate(c, n, mode)
        if not c > -1.0:
            return False, 0, 0, 0.0, 0.0, False, False
    if order == 1:
        fl = np.floor(c)
        start = np.int64(fl)
        w0 = 1.0 - (c - fl)
        w1 = 1.0 - w0
    else:
        start = np.int64(np.floor(c + 0.5))
        w0 = 1.0
        w1 = 0.0
    if mode == _GRID_CONSTANT:
        out0 = start < 0 or start >= n
        out1 = start + 1 < 0 or start + 1 >= n
        return True, 0 if out0 else start, 0 if out1 else start + 1, w0, w1, out0, out1
    return True, _fold_tap(start, n, mode), _fold_tap(start + 1, n, mode), w0, w1, False, False


# --------------------------------------------------------------------------------------------
# pass 1: resampling one output row
# (flat indices are unsigned where they are known to be non-negative: numba then skips its
# negative-index wraparound, which would otherwise cost a test per access and block SIMD)
# --------------------------------------------------------------------------------------------


@njit(cache=True)
def _row_taps(matrices, n, rr, flip_h, H, W, rs, cs, mode, order, offs, wts, fast):
    """Taps and weights of every pixel of one output row (a branch-free, vectorised loop).

    Pixel ``c`` reads taps at ``offs[0, c]`` plus 0, ``offs[2, c]`` (next column),
    ``offs[1, c]`` (next row) and both, with row weights ``wts[0:2, c]`` and column weights
    ``wts[2:4, c]``. ``fast[c]`` is True where the taps need no folding: all inside the image,
    or clamped in ``nearest`` mode; the other pixels are left to :func:`_slow_pixels`.
    """
    # Output pixel (r, c) reads the input at (off + r*A[:, 0]) + c*A[:, 1], as scipy sums it.
    b0 = matrices[n, 0, 2] + rr * matrices[n, 0, 0]
    b1 = matrices[n, 1, 2] + rr * matrices[n, 1, 0]
    a01 = matrices[n, 0, 1]
    a11 = matrices[n, 1, 1]
    c_first = W - 1 if flip_h else 0
    c_step = -1 if flip_h else 1
    hmax = H - 1.0
    wmax = W - 1.0
    nearest = mode == _NEAREST
    for c in range(W):
        cc = c_first + c * c_step
        rin = b0 + cc * a01
        cin = b1 + cc * a11
        if order == 1:
            fr = np.floor(rin)
            fc = np.floor(cin)
            inside = (rin >= 0.0) & (rin < hmax) & (cin >= 0.0) & (cin < wmax)
            w = 1.0 - (rin - fr)
            wts[0, c] = w
            wts[1, c] = 1.0 - w
            w = 1.0 - (cin - fc)
            wts[2, c] = w
            wts[3, c] = 1.0 - w
        else:
            fr = np.floor(rin + 0.5)
            fc = np.floor(cin + 0.5)
            inside = (rin >= 0.0) & (rin <= hmax) & (cin >= 0.0) & (cin <= wmax)
        ir = np.int64(fr)
        ic = np.int64(fc)
        r0 = min(max(ir, 0), H - 1)
        c0 = min(max(ic, 0), W - 1)
        offs[0, c] = r0 * rs + c0 * cs
        offs[1, c] = (min(max(ir + 1, 0), H - 1) - r0) * rs
        offs[2, c] = (min(max(ic + 1, 0), W - 1) - c0) * cs
        fast[c] = inside | nearest


@njit(cache=True)
def _bilinear(xf, q, d1, d2, d3, a0, a1, b0, b1):
    """One channel's four taps at ``q``, ``q + d1``, ``q + d2``, ``q + d3``, summed as scipy
    sums them (row weights ``a``, column weights ``b``)."""
    t = 0.0
    t += (np.float64(xf[q]) * a0) * b0
    t += (np.float64(xf[q + d1]) * a0) * b1
    t += (np.float64(xf[q + d2]) * a1) * b0
    t += (np.float64(xf[q + d3]) * a1) * b1
    return t


@njit(cache=True)
def _fast_pixels(xf, of, ibase, obase, W, C, cs, chs, order, offs, wts, fast):
    """Interpolate the row's ``fast`` pixels, all channels, summing as scipy does.

    One and three channels (RGB, channels last) are written out without a channel loop: at
    these counts the loop's overhead per pixel costs as much as the arithmetic.
    """
    ucs = np.uint64(cs)
    uchs = np.uint64(chs)
    one = np.uint64(1)
    two = np.uint64(2)
    rgb = C == 3 and chs == 1
    for c in range(W):
        if not fast[c]:
            continue
        o = np.uint64(obase) + np.uint64(c) * ucs
        p = np.uint64(ibase) + offs[0, c]
        if order == 0:
            for ch in range(C):
                k = np.uint64(ch) * uchs
                t = 0.0
                t += np.float64(xf[p + k])
                of[o + k] = t
            continue
        d2 = offs[1, c]
        d1 = offs[2, c]
        d3 = d1 + d2
        a0 = wts[0, c]
        a1 = wts[1, c]
        b0 = wts[2, c]
        b1 = wts[3, c]
        if C == 1:
            of[o] = _bilinear(xf, p, d1, d2, d3, a0, a1, b0, b1)
        elif rgb:
            of[o] = _bilinear(xf, p, d1, d2, d3, a0, a1, b0, b1)
            of[o + one] = _bilinear(xf, p + one, d1, d2, d3, a0, a1, b0, b1)
            of[o + two] = _bilinear(xf, p + two, d1, d2, d3, a0, a1, b0, b1)
        else:
            for ch in range(C):
                k = np.uint64(ch) * uchs
                of[o + k] = _bilinear(xf, p + k, d1, d2, d3, a0, a1, b0, b1)


@njit(cache=True)
def _slow_pixels(xf, of, ibase, obase, matrices, n, rr, flip_h, H, W, C, rs, cs, chs, mode,
                 cval, order, fast):
    """Resample the row's pixels whose taps need the fill mode's folding (or are cval)."""
    b0 = matrices[n, 0, 2] + rr * matrices[n, 0, 0]
    b1 = matrices[n, 1, 2] + rr * matrices[n, 1, 0]
    for c in range(W):
        if fast[c]:
            continue
        cc = W - 1 - c if flip_h else c
        rin = b0 + cc * matrices[n, 0, 1]
        cin = b1 + cc * matrices[n, 1, 1]
        o = obase + c * cs
        if mode == _CONSTANT and not (0.0 <= rin <= H - 1 and 0.0 <= cin <= W - 1):
            for ch in range(C):
                of[o + ch * chs] = cval
            continue
        okr, r0, r1, wr0, wr1, vr0, vr1 = _axis_taps(rin, H, mode, order)
        okc, c0, c1, wc0, wc1, vc0, vc1 = _axis_taps(cin, W, mode, order)
        if not (okr and okc):
            for ch in range(C):
                of[o + ch * chs] = cval
            continue
        p00 = ibase + r0 * rs + c0 * cs
        p01 = ibase + r0 * rs + c1 * cs
        p10 = ibase + r1 * rs + c0 * cs
        p11 = ibase + r1 * rs + c1 * cs
        for ch in range(C):
            k = ch * chs
            v00 = cval if vr0 or vc0 else np.float64(xf[p00 + k])
            t = 0.0
            if order == 0:
                t += v00
            else:
                v01 = cval if vr0 or vc1 else np.float64(xf[p01 + k])
                v10 = cval if vr1 or vc0 else np.float64(xf[p10 + k])
                v11 = cval if vr1 or vc1 else np.float64(xf[p11 + k])
                t += (v00 * wr0) * wc0
                t += (v01 * wr0) * wc1
                t += (v10 * wr1) * wc0
                t += (v11 * wr1) * wc1
            of[o + k] = t


@njit(cache=True)
def _copy_row(xf, of, ibase, obase, rr, flip_h, W, C, rs, outer, so, inner, channels_first):
    """Row ``rr`` of the input, cast to the output dtype (and mirrored for a horizontal flip)."""
    src = np.uint64(ibase + rr * rs)
    dst = np.uint64(obase)
    if not flip_h:
        for a in range(outer):
            k = np.uint64(a * so)
            for j in range(inner):
                of[dst + k + np.uint64(j)] = xf[src + k + np.uint64(j)]
    elif channels_first:
        for a in range(outer):
            k = np.uint64(a * so)
            for j in range(W):
                of[dst + k + np.uint64(j)] = xf[src + k + np.uint64(W - 1 - j)]
    else:
        for c in range(W):
            o = dst + np.uint64(c * C)
            i = src + np.uint64((W - 1 - c) * C)
            for ch in range(C):
                of[o + np.uint64(ch)] = xf[i + np.uint64(ch)]


@njit(cache=True)
def _resample_row(xf, of, ibase, obase, matrices, n, fl, r, H, W, C, rs, cs, chs, outer, so,
                  inner, channels_first, mode, cval, order, offs, wts, fast):
    """Write output row ``r`` of image ``n``: resampled (AFFINE) or copied, with flips."""
    rr = H - 1 - r if fl & FLIP_V else r
    flip_h = (fl & FLIP_H) != 0
    if not fl & AFFINE:
        _copy_row(xf, of, ibase, obase, rr, flip_h, W, C, rs, outer, so, inner, channels_first)
        return
    _row_taps(matrices, n, rr, flip_h, H, W, rs, cs, mode, order, offs, wts, fast)
    _fast_pixels(xf, of, ibase, obase, W, C, cs, chs, order, offs, wts, fast)
    if mode != _NEAREST:
        _slow_pixels(xf, of, ibase, obase, matrices, n, rr, flip_h, H, W, C, rs, cs, chs, mode,
                     cval, order, fast)


# --------------------------------------------------------------------------------------------
# the pointwise chain and the standardize steps, one output row at a time
# (a row is `outer` contiguous runs of `inner` elements, `so` apart; the functions that divide
# use numpy's error model, IEEE division as Keras's numpy code does it, which unlike Python's
# zero check lets the loops vectorise)
# --------------------------------------------------------------------------------------------


@njit(cache=True)
def _row_minmax(of, base, outer, so, inner):
    """Min and max of one output row, as float64 (four independent lanes for speed)."""
    lo0 = lo1 = lo2 = lo3 = hi0 = hi1 = hi2 = hi3 = of[base]
    for a in range(outer):
        p = np.uint64(base + a * so)
        j = 0
        while j + 4 <= inner:
            q = p + np.uint64(j)
            v0 = of[q]
            v1 = of[q + np.uint64(1)]
            v2 = of[q + np.uint64(2)]
            v3 = of[q + np.uint64(3)]
            lo0 = v0 if v0 < lo0 else lo0
            lo1 = v1 if v1 < lo1 else lo1
            lo2 = v2 if v2 < lo2 else lo2
            lo3 = v3 if v3 < lo3 else lo3
            hi0 = v0 if v0 > hi0 else hi0
            hi1 = v1 if v1 > hi1 else hi1
            hi2 = v2 if v2 > hi2 else hi2
            hi3 = v3 if v3 > hi3 else hi3
            j += 4
        for i in range(j, inner):
            v0 = of[p + np.uint64(i)]
            lo0 = v0 if v0 < lo0 else lo0
            hi0 = v0 if v0 > hi0 else hi0
    lo = min(min(lo0, lo1), min(lo2, lo3))
    hi = max(max(hi0, hi1), max(hi2, hi3))
    return np.float64(lo), np.float64(hi)


@njit(cache=True)
def _row_sums(of, base, outer, so, inner):
    """Float64 moments of one output row about its first value ``p``: ``(p, S, Q)`` with
    ``S = sum(v - p)`` and ``Q = sum((v - p)**2)``, summed in a fixed order (four lanes)."""
    p = np.float64(of[base])
    s0 = s1 = s2 = s3 = 0.0
    q0 = q1 = q2 = q3 = 0.0
    for a in range(outer):
        b = np.uint64(base + a * so)
        j = 0
        while j + 4 <= inner:
            k = b + np.uint64(j)
            v0 = np.float64(of[k]) - p
            v1 = np.float64(of[k + np.uint64(1)]) - p
            v2 = np.float64(of[k + np.uint64(2)]) - p
            v3 = np.float64(of[k + np.uint64(3)]) - p
            s0 += v0
            s1 += v1
            s2 += v2
            s3 += v3
            q0 += v0 * v0
            q1 += v1 * v1
            q2 += v2 * v2
            q3 += v3 * v3
            j += 4
        for i in range(j, inner):
            v0 = np.float64(of[b + np.uint64(i)]) - p
            s0 += v0
            q0 += v0 * v0
    return p, (s0 + s1) + (s2 + s3), (q0 + q1) + (q2 + q3)


@njit(cache=True)
def _shift_row(of, base, outer, so, inner, d, lo, hi):
    """Channel shift: ``clip(v + d, lo, hi)`` in the output dtype."""
    for a in range(outer):
        p = np.uint64(base + a * so)
        for j in range(inner):
            k = p + np.uint64(j)
            v = of[k] + d
            v = lo if v < lo else v
            of[k] = hi if v > hi else v


@njit(cache=True, error_model="numpy")
def _brightness_row(of, base, outer, so, inner, channels_first, C, b, m, mx, zero):
    """Keras 3's brightness shift (spec §3.4) with the image's min ``m`` and max ``mx``.

    The image becomes uint8 (truncation, after a min-max stretch to [0, 255] when it is
    outside that range), PIL blends it with black (alpha kept), and the result comes back as
    float32, mapped back to ``[m, mx]`` after a stretch.
    """
    stretch = m < 0 or mx > 255
    m32 = np.float32(m)
    ymax = np.float32(mx) - m32
    if ymax == 0:
        ymax = np.float32(1.0)  # Keras skips the division when the range is empty
    f0 = np.float32(0.0)
    f255 = np.float32(255.0)
    b32 = np.float32(b)  # PIL's blend takes the factor as a C float
    for a in range(outer):
        p = np.uint64(base + a * so)
        for j in range(inner):
            k = p + np.uint64(j)
            v32 = np.float32(of[k])
            if stretch:
                q = np.int64(((v32 - m32) / ymax) * f255)
            else:
                q = np.int64(v32)
            # PIL: float32(b) * q in float32, 0 at or below 0, 255 at or above, else cut.
            res = np.int64(min(max(b32 * np.float32(q), f0), f255))
            if C == 4 and (a if channels_first else j & 3) == 3:
                res = q  # alpha is not blended
            if stretch:
                of[k] = (np.float32(res) / f255) * (mx - m) + m
            else:
                of[k] = np.float32(res) + zero


@njit(cache=True)
def _scale_row(of, base, outer, so, inner, s):
    """``v *= s`` in the output dtype."""
    for a in range(outer):
        p = np.uint64(base + a * so)
        for j in range(inner):
            k = p + np.uint64(j)
            of[k] = of[k] * s


@njit(cache=True, error_model="numpy")
def _sample_row(of, base, outer, so, inner, post, smean, sden):
    """Samplewise centre (``v -= smean``) and scale (``v /= sden``) in the output dtype."""
    for a in range(outer):
        p = np.uint64(base + a * so)
        if post & SAMPLE_CENTER:
            for j in range(inner):
                k = p + np.uint64(j)
                of[k] = of[k] - smean
        if post & SAMPLE_STD:
            for j in range(inner):
                k = p + np.uint64(j)
                of[k] = of[k] / sden


@njit(cache=True, error_model="numpy")
def _feature_row(of, base, outer, so, inner, img_off, post, meanf, stdf):
    """Featurewise ``v -= mean`` then ``v /= (std + float32(1e-6))`` (float32 statistics)."""
    for a in range(outer):
        p = np.uint64(base + a * so)
        f = np.uint64(base + a * so - img_off)
        if post & FEATURE_CENTER:
            for j in range(inner):
                k = np.uint64(j)
                of[p + k] = of[p + k] - meanf[f + k]
        if post & FEATURE_STD:
            for j in range(inner):
                k = np.uint64(j)
                of[p + k] = of[p + k] / (stdf[f + k] + np.float32(_EPSILON))


@njit(cache=True)
def _row_layout(shape, channels_first):
    """``(N, H, W, C, rs, cs, chs, outer, so, inner)``: row, column and channel strides of the
    flat batch, and a row as ``outer`` contiguous runs of ``inner`` elements, ``so`` apart."""
    if channels_first:
        N, C, H, W = shape
        return N, H, W, C, W, 1, H * W, C, H * W, W
    N, H, W, C = shape
    return N, H, W, C, W * C, C, 1, 1, 0, W * C


@njit(cache=True)
def _input_rows(matrices, n, r0, r1, flip_v, H, W):
    """First and last input row (clamped to the image) that output rows ``r0..r1`` of image
    ``n`` read at spline order 0 or 1, from the four corners of that block."""
    lo = np.inf
    hi = -np.inf
    for r in (r0, r1):
        rr = H - 1 - r if flip_v else r
        for cc in (0, W - 1):
            v = matrices[n, 0, 2] + rr * matrices[n, 0, 0] + cc * matrices[n, 0, 1]
            lo = min(lo, v)
            hi = max(hi, v)
    first = np.int64(min(max(np.floor(lo), 0.0), H - 1.0))
    last = np.int64(min(max(np.floor(hi) + 1.0, 0.0), H - 1.0))
    return first, last


@njit(cache=True)
def _touch_rows(xf, ibase, first, last, rs, outer, so, inner):
    """Read one element per cache line of input rows ``first..last``; returns their sum.

    A rotated output row reads a diagonal strip across many input rows, a pattern the
    hardware prefetcher does not follow, so each new cache line would stall the resampling.
    Reading the rows ahead in address order streams them into the cache instead. The sum is
    returned (and kept by the caller) only so that the reads are not optimised away.
    """
    step = max(64 // xf.itemsize, 1)
    total = 0.0
    for ir in range(first, last + 1):
        for a in range(outer):
            q = ibase + ir * rs + a * so
            for j in range(0, inner, step):
                total += np.float64(xf[q + j])
    return total


@njit(cache=True)
def _prefetch(xf, ibase, matrices, n, r, flip_v, H, W, rs, outer, so, inner, lo, hi):
    """Read ahead the input rows of output rows ``r .. r + 2 * _PREFETCH_ROWS - 1`` of image
    ``n`` that are not among the rows ``lo..hi`` read already (none when ``hi < lo``).

    Called every ``_PREFETCH_ROWS`` rows: each block's rows were read with the previous
    block, and this call reads the next block's. Returns the new ``lo, hi`` and the reads'
    sum.
    """
    first, last = _input_rows(matrices, n, r, min(r + 2 * _PREFETCH_ROWS - 1, H - 1), flip_v,
                              H, W)
    if hi < lo:
        return first, last, _touch_rows(xf, ibase, first, last, rs, outer, so, inner)
    total = 0.0
    if first < lo:
        total += _touch_rows(xf, ibase, first, lo - 1, rs, outer, so, inner)
    if last > hi:
        total += _touch_rows(xf, ibase, hi + 1, last, rs, outer, so, inner)
    return min(first, lo), max(last, hi), total


@njit(parallel=True, cache=True)
def _resample_pass(x, src, out, matrices, flags, mode, cval, order, post, scale, mean, std,
                   channels_first, rowstats, touched):
    """Pass 1 over all rows: resample (output image ``n`` from input image ``src[n]``). Rows
    of images without a channel shift or brightness are also rescaled (and get the featurewise
    steps when no samplewise step follows) and, with a samplewise step, leave their moments in
    ``rowstats[:, 2:5]``; rows of the other images leave their min/max in ``rowstats[:, 0:2]``.
    The rows are split into ``len(touched)`` chunks, each leaving the sum of its read-ahead
    (:func:`_touch_rows`) in ``touched``."""
    N, H, W, C, rs, cs, chs, outer, so, inner = _row_layout(out.shape, channels_first)
    xf = x.reshape(-1)
    of = out.reshape(-1)
    meanf = mean.reshape(-1)
    stdf = std.reshape(-1)
    nrows = N * H
    nchunks = len(touched)
    for k in prange(nchunks):
        touched[k] = _resample_chunk(
            xf, src, of, matrices, flags, mode, cval, order, post, scale, meanf, stdf, rowstats,
            k * nrows // nchunks, (k + 1) * nrows // nchunks, H, W, C, rs, cs, chs, outer, so,
            inner, channels_first)


@njit(cache=True)
def _resample_chunk(xf, src, of, matrices, flags, mode, cval, order, post, scale, meanf, stdf,
                    rowstats, t0, t1, H, W, C, rs, cs, chs, outer, so, inner, channels_first):
    """Pass 1 on rows ``t0:t1`` of the batch (see :func:`_resample_pass`); returns the sum
    of the prefetching reads."""
    img = H * W * C
    samplewise = (post & _SAMPLEWISE) != 0
    offs = np.empty((3, W), np.uint64)
    wts = np.empty((4, W), np.float64)
    fast = np.empty(W, np.bool_)
    prefetch = img * xf.itemsize > _PREFETCH_BYTES
    touched = 0.0
    # Input rows ahead_lo..ahead_hi of the current image are read ahead already (none when
    # ahead_hi < ahead_lo).
    ahead_lo = 0
    ahead_hi = -1
    for t in range(t0, t1):
        n = t // H
        r = t - n * H
        fl = flags[n]
        ibase = src[n] * img
        base = n * img + r * rs
        if r == 0 or t == t0:
            ahead_lo = 0
            ahead_hi = -1
        if prefetch and fl & AFFINE and (r % _PREFETCH_ROWS == 0 or t == t0):
            ahead_lo, ahead_hi, total = _prefetch(xf, ibase, matrices, n, r, fl & FLIP_V, H, W,
                                                  rs, outer, so, inner, ahead_lo, ahead_hi)
            touched += total
        _resample_row(xf, of, ibase, base, matrices, n, fl, r, H, W, C, rs, cs, chs, outer, so,
                      inner, channels_first, mode, cval, order, offs, wts, fast)
        if fl & _NEEDS_MINMAX:
            lo, hi = _row_minmax(of, base, outer, so, inner)
            rowstats[t, 0] = lo
            rowstats[t, 1] = hi
            continue
        if post & RESCALE:
            _scale_row(of, base, outer, so, inner, scale)
        if not samplewise and post & _FEATUREWISE:
            _feature_row(of, base, outer, so, inner, n * img, post, meanf, stdf)
        if samplewise:
            p, s, q = _row_sums(of, base, outer, so, inner)
            rowstats[t, 2] = p
            rowstats[t, 3] = s
            rowstats[t, 4] = q
    return touched


@njit(parallel=True, cache=True)
def _intensity_pass(out, flags, lo, hi, shift, bright, post, consts, mean, std,
                    channels_first, rowstats):
    """Pass 2 over the rows of images with a channel shift or brightness (min ``lo[n]``, max
    ``hi[n]`` after resampling): channel shift, brightness, rescale, and the featurewise steps
    or, with a samplewise step, the row's moments."""
    N, H, W, C, rs, cs, chs, outer, so, inner = _row_layout(out.shape, channels_first)
    img = H * W * C
    of = out.reshape(-1)
    meanf = mean.reshape(-1)
    stdf = std.reshape(-1)
    samplewise = (post & _SAMPLEWISE) != 0
    for t in prange(N * H):
        n = t // H
        fl = flags[n]
        if not fl & _NEEDS_MINMAX:
            continue
        base = n * img + (t - n * H) * rs
        m = lo[n]
        mx = hi[n]
        if fl & CHANNEL_SHIFT:
            d = shift[n]
            _shift_row(of, base, outer, so, inner, d, m, mx)
            # The image's new min/max, analytically (spec §3.3).
            m = lo[n] + d
            m = lo[n] if m < lo[n] else (hi[n] if m > hi[n] else m)
            mx = hi[n] + d
            mx = lo[n] if mx < lo[n] else (hi[n] if mx > hi[n] else mx)
        if fl & BRIGHTNESS:
            _brightness_row(of, base, outer, so, inner, channels_first, C, bright[n], m, mx,
                            consts[1])
        if post & RESCALE:
            _scale_row(of, base, outer, so, inner, consts[0])
        if not samplewise and post & _FEATUREWISE:
            _feature_row(of, base, outer, so, inner, n * img, post, meanf, stdf)
        if samplewise:
            p, s, q = _row_sums(of, base, outer, so, inner)
            rowstats[t, 2] = p
            rowstats[t, 3] = s
            rowstats[t, 4] = q


@njit(parallel=True, cache=True)
def _standardize_pass(out, post, smean, sden, mean, std, channels_first):
    """Pass 3 over all rows: samplewise centre/scale with each image's ``smean[n]`` and
    ``sden[n]`` (std + 1e-6), then the featurewise steps."""
    N, H, W, C, rs, cs, chs, outer, so, inner = _row_layout(out.shape, channels_first)
    img = H * W * C
    of = out.reshape(-1)
    meanf = mean.reshape(-1)
    stdf = std.reshape(-1)
    for t in prange(N * H):
        n = t // H
        base = n * img + (t - n * H) * rs
        _sample_row(of, base, outer, so, inner, post, smean[n], sden[n])
        if post & _FEATUREWISE:
            _feature_row(of, base, outer, so, inner, n * img, post, meanf, stdf)


def _image_moments(rowstats: np.ndarray, N: int, H: int, row_size: int):
    """Each image's mean and population variance from its rows' moments ``(p, S, Q)`` about
    their first values, combined as Chan et al. do, so that a constant image has variance 0."""
    p, s, q = (rowstats[:, i].reshape(N, H) for i in (2, 3, 4))
    mean = (row_size * p + s).sum(axis=1) / (H * row_size)
    own = np.maximum(q - s * s / row_size, 0.0)
    d = p + s / row_size - mean[:, None]
    return mean, (own + row_size * d * d).sum(axis=1) / (H * row_size)


# --------------------------------------------------------------------------------------------
# Python entry points
# --------------------------------------------------------------------------------------------


def _per_image(name: str, a, dtype, n: int) -> np.ndarray:
    arr = np.ascontiguousarray(a, dtype=dtype)
    if arr.shape != (n,):
        raise ValueError(f"`{name}` must have shape ({n},), one value per image; got {arr.shape}")
    return arr


def _integer(name: str, value) -> int:
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"`{name}` must be an integer; got {type(value).__name__}") from None


def _real(name: str, value) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        raise TypeError(f"`{name}` must be a real number; got {type(value).__name__}")
    return float(value)


def _source_index(index, n: int) -> np.ndarray:
    """``index`` as int64 source positions checked against ``n`` images (all of them if None)."""
    if index is None:
        return np.arange(n, dtype=np.int64)
    a = np.asarray(index)
    if a.ndim != 1 or (a.dtype.kind not in "iu" and a.size):
        raise TypeError(f"`index` must be a 1-D integer array; got {a.dtype} of shape {a.shape}")
    a = a.astype(np.int64)
    if a.size and (a.min() < 0 or a.max() >= n):
        raise ValueError(f"`index` must lie in [0, {n}) (the images of `x`); got values "
                         f"{a.min()}..{a.max()}")
    return a


def affine_batch(x: np.ndarray, out: np.ndarray, matrices: np.ndarray, flags: np.ndarray,
                 shift: np.ndarray, bright: np.ndarray, mode: int, cval: float, order: int,
                 post: int, rescale: float, mean: np.ndarray, std: np.ndarray,
                 channels_first: bool, index: np.ndarray | None = None) -> None:
    """Write the whole augmented batch into ``out`` (in place). Returns None.

    Parameters
    ----------
    x : ndarray
        C-contiguous batch ``(N, H, W, C)`` (or ``(N, C, H, W)`` with ``channels_first``),
        uint8, float32 or float64. Never modified. With ``index``, the images to pick from.
    out : ndarray
        Preallocated C-contiguous array of ``x``'s shape (``len(index)`` images with
        ``index``), float32 or float64 or ``x``'s own
        dtype (uint8 outputs round half up and saturate to [0, 255], as scipy does; they allow
        only the geometric stage: AFFINE and flips, no ``post`` steps). Must not overlap ``x``.
    matrices : ndarray
        ``(N, 2, 3)`` float64: ``[A | off]`` per image in (row, col) coordinates, as passed to
        ``scipy.ndimage.affine_transform(plane, A, off, order, mode, cval)``.
    flags : ndarray
        ``(N,)`` uint8 bit field per image: AFFINE, FLIP_H, FLIP_V, CHANNEL_SHIFT, BRIGHTNESS.
    shift, bright : ndarray
        ``(N,)`` float64 channel-shift intensities and brightness factors, read where the
        image's flag is set. The shift is rounded to ``out``'s dtype (Keras's float32 add).
    mode : int
        Fill mode code from :data:`MODES`.
    cval : float
        Fill value for ``constant`` and ``grid-constant``.
    order : int
        Spline order, 0 or 1.
    post : int
        Standardize bits: RESCALE, SAMPLE_CENTER, SAMPLE_STD, FEATURE_CENTER, FEATURE_STD.
    rescale : float
        Factor for RESCALE, rounded to ``out``'s dtype.
    mean, std : ndarray
        float32, C-contiguous, the shape of one image in the layout; read for FEATURE_CENTER
        and FEATURE_STD (``std`` without the 1e-6, which is added here).
    channels_first : bool
        Layout of ``x`` and ``out``.
    index : ndarray, optional
        ``(N,)`` integers in ``[0, len(x))``: output image ``n`` is made from ``x[index[n]]``,
        as if ``x[index]`` were passed, without that copy.

    Raises
    ------
    ValueError, TypeError
        For arrays of the wrong type, dtype, shape or layout, codes or scalars of the wrong
        type or value, or (for images with AFFINE set) matrices that are not finite or send
        pixels beyond 2**52.
    """
    if not isinstance(x, np.ndarray) or not isinstance(out, np.ndarray):
        raise TypeError("`x` and `out` must be numpy arrays")
    if x.ndim != 4:
        raise ValueError(f"`x` must be a 4-D batch of images; got shape {x.shape}")
    if x.dtype not in _INPUT_DTYPES:
        raise TypeError(f"`x` must be uint8, float32 or float64; got {x.dtype}")
    src = _source_index(index, len(x))
    shape = (len(src),) + x.shape[1:]
    if out.shape != shape:
        what = "`x`" if index is None else "`x[index]`"
        raise ValueError(f"`out` must have the shape of {what} {shape}; got {out.shape}")
    if out.dtype not in _FLOAT_DTYPES and out.dtype != x.dtype:
        raise TypeError(f"`out` must be float32, float64 or `x`'s dtype {x.dtype}; got {out.dtype}")
    if not x.flags.c_contiguous or not out.flags.c_contiguous:
        raise ValueError("`x` and `out` must be C-contiguous")
    if not out.flags.writeable:
        raise ValueError("`out` must be writeable")
    if np.may_share_memory(x, out):
        raise ValueError("`out` must not overlap `x`")
    mode = _integer("mode", mode)
    if mode not in MODES.values():
        raise ValueError(f"`mode` must be one of the codes in MODES (0-6); got {mode}")
    order = _integer("order", order)
    if order not in (0, 1):
        raise ValueError(f"`order` must be 0 or 1 (orders 2-5 go to scipy); got {order}")
    post = _integer("post", post)
    if not 0 <= post < 32:
        raise ValueError(f"`post` must be a combination of the standardize bits; got {post}")
    cval = _real("cval", cval)
    rescale = _real("rescale", rescale)
    channels_first = bool(channels_first)
    N = out.shape[0]
    if channels_first:
        C, H, W = x.shape[1:]
    else:
        H, W, C = x.shape[1:]
    matrices = np.ascontiguousarray(matrices, dtype=np.float64)
    if matrices.shape != (N, 2, 3):
        raise ValueError(f"`matrices` must have shape ({N}, 2, 3); got {matrices.shape}")
    flags = _per_image("flags", flags, np.uint8, N)
    shift = _per_image("shift", shift, np.float64, N)
    bright = _per_image("bright", bright, np.float64, N)
    if out.size == 0:
        return
    used = matrices[(flags & AFFINE) != 0]
    with np.errstate(invalid="ignore", over="ignore"):
        # Largest |coordinate| any output pixel can reach (finite check included: NaN fails).
        reach = (np.abs(used[:, :, 2]) + (H - 1) * np.abs(used[:, :, 0])
                 + (W - 1) * np.abs(used[:, :, 1]))
    if not (reach <= _MAX_COORDINATE).all():
        raise ValueError("`matrices` must be finite and keep every input coordinate within "
                         "2**52 of the origin")
    if out.dtype not in _FLOAT_DTYPES and (post or (flags & _NEEDS_MINMAX).any()):
        raise ValueError(f"an {out.dtype} `out` supports only the geometric stage (AFFINE and "
                         "flips, post=0); use a float32 or float64 `out`")
    if (flags & BRIGHTNESS).any() and C not in (1, 3, 4):
        raise ValueError(f"Unsupported channel number: {C}")
    one_image = x.shape[1:]
    for name, arr, bit in (("mean", mean, FEATURE_CENTER), ("std", std, FEATURE_STD)):
        if not isinstance(arr, np.ndarray) or arr.dtype != np.float32 or arr.ndim != 3:
            raise TypeError(f"`{name}` must be a 3-D float32 array")
        if post & bit and arr.shape != one_image:
            raise ValueError(f"`{name}` must have the shape of one image {one_image}; "
                             f"got {arr.shape}")
    mean = np.ascontiguousarray(mean)
    std = np.ascontiguousarray(std)

    if out.dtype not in _FLOAT_DTYPES:
        # uint8 output: resample in float64, then scipy's rounding (t + 0.5, saturated, cut).
        exact = np.empty(out.shape, np.float64)
        affine_batch(x, exact, matrices, flags, shift, bright, mode, cval, order, 0, 1.0, mean,
                     std, channels_first, src)
        exact += 0.5
        np.clip(exact, 0.0, 255.0, out=exact)
        out[...] = exact
        return

    t = out.dtype
    rowstats = np.empty((N * H, 5), np.float64)
    # One value per chunk of rows: the sum of its prefetching reads (see _touch_rows).
    touched = np.empty(min(N * H, 16 * numba.get_num_threads()))
    previous = numba.set_parallel_chunksize(1)  # chunks handed out one at a time: balance
    try:
        _resample_pass(x, src, out, matrices, flags, mode, cval, order, post,
                       t.type(rescale), mean, std, channels_first, rowstats, touched)
    finally:
        numba.set_parallel_chunksize(previous)
    minmax = (flags & _NEEDS_MINMAX) != 0
    if minmax.any():
        rows = rowstats[:, :2].reshape(N, H, 2)
        lo = np.zeros(N, t)
        hi = np.zeros(N, t)
        lo[minmax] = rows[minmax, :, 0].min(axis=1)
        hi[minmax] = rows[minmax, :, 1].max(axis=1)
        consts = np.array([rescale, 0.0], dtype=t)  # rescale, and a zero of out's dtype
        _intensity_pass(out, flags, lo, hi, shift.astype(t), bright, post, consts, mean, std,
                        channels_first, rowstats)
    if post & _SAMPLEWISE:
        smean, var = _image_moments(rowstats, N, H, W * C)
        sden = np.sqrt(var).astype(t) + t.type(_EPSILON)
        _standardize_pass(out, post, smean.astype(t), sden, mean, std, channels_first)


def resample(x: np.ndarray, matrix: np.ndarray, mode: str = "nearest", cval: float = 0.0,
             order: int = 1, channels_first: bool = False) -> np.ndarray:
    """Affine-resample one image exactly as ``scipy.ndimage.affine_transform`` per channel.

    Parameters
    ----------
    x : ndarray
        One image, ``(H, W, C)`` or with ``channels_first`` ``(C, H, W)``.
    matrix : array_like
        ``(2, 3)`` ``[A | off]`` or ``(3, 3)`` (its last row is not used), in (row, col)
        coordinates: output pixel ``(r, c)`` reads the input at ``A @ (r, c) + off``.
    mode : str
        A scipy fill mode: constant, nearest, reflect, grid-mirror, wrap, mirror,
        grid-constant, grid-wrap.
    cval : float
        Fill value for constant modes.
    order : int
        Spline order 0-5; 0 and 1 run the native kernel, 2-5 (and dtypes other than uint8,
        float32, float64) call scipy per channel.
    channels_first : bool
        Layout of ``x``.

    Returns
    -------
    ndarray
        A new array of ``x``'s shape and dtype.

    Raises
    ------
    RuntimeError
        ``"boundary mode not supported"`` for an unknown mode, ``"spline order not
        supported"`` for an order outside 0-5 (as scipy and Keras do).
    ValueError
        If ``x`` is not 3-D, or ``matrix`` is not 2x3 / 3x3 and finite.
    """
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"`x` must be one 3-D image; got shape {x.shape}")
    if not isinstance(mode, str) or mode not in MODES:
        raise RuntimeError("boundary mode not supported")
    if isinstance(order, (bool, np.bool_)) or not isinstance(order, (int, np.integer)):
        raise TypeError(f"`order` must be an integer; got {type(order).__name__}")
    if not 0 <= order <= 5:
        raise RuntimeError("spline order not supported")
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape not in ((2, 3), (3, 3)):
        raise ValueError(f"`matrix` must be 2x3 or 3x3; got shape {m.shape}")
    m = np.ascontiguousarray(m[:2])
    if not np.isfinite(m).all():
        raise ValueError("`matrix` must be finite")
    if order > 1 or x.dtype not in _INPUT_DTYPES:
        planes = x if channels_first else np.moveaxis(x, -1, 0)
        res = np.stack([scipy.ndimage.affine_transform(p, m[:, :2], m[:, 2], order=order,
                                                       mode=mode, cval=cval) for p in planes])
        return res if channels_first else np.ascontiguousarray(np.moveaxis(res, 0, -1))
    xb = np.ascontiguousarray(x)[None]
    out = np.empty_like(xb)
    dummy = np.zeros((1, 1, 1), np.float32)
    affine_batch(xb, out, m[None], np.array([AFFINE], np.uint8), np.zeros(1), np.zeros(1),
                 MODES[mode], cval, order, 0, 1.0, dummy, dummy, channels_first)
    return out[0]
