#!/usr/bin/python3
# Writes the NumPy files the runtime's unit tests read (npy_test, npz_test), with NumPy
# itself: run with Debian's /usr/bin/python3 (NumPy 1.24) from this directory.
import numpy as np

np.save("i8.npy", np.array([1, -2, 3_000_000_000], dtype="<i8"))
np.save("i4.npy", np.array([[1, -2], [3, 4]], dtype="<i4"))
np.save("b1.npy", np.array([True, False, True]))
np.save("i2.npy", np.array([1, 2], dtype="<i2"))  # unsupported

arrays = {
    "a": np.arange(6, dtype="<f4").reshape(2, 3),
    "labels": np.array([7, -8], dtype="<i8"),
    "mask": np.array([True, False]),
    "scalar": np.float32(2.5),
    "train.epoch": np.int64(3),
}
np.savez("stored.npz", **arrays)
# Deflate: a compressible array as well, so the members really are compressed.
np.savez_compressed("deflated.npz", zeros=np.zeros(1000, dtype="<f4"), **arrays)
