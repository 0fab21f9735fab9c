"""Numba kernels: every hot loop of fastkeras, arrays in and arrays out."""
