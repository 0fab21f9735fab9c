"""numba.cuda twins of the CPU kernels, with the same names and signatures."""
