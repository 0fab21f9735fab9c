"""fastkeras: the Keras layer API and Keras's ImageDataGenerator on Numba kernels."""

__version__ = "0.1.0"
