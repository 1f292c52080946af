"""The core: untrusted bytes in, an immutable verdict out (no web, no TensorFlow)."""
