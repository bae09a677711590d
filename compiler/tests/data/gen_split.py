#!/usr/bin/python3
"""torch.split and torch.chunk exported to ONNX (Split), for compiler_model_tests
SplitOp.TorchSplitAndChunk (ops_ext_test.cc):

    split/<name>/model.onnx   input "x", outputs "y0", "y1", ... (each part, times 2 plus 1, so
                              that every part is computed: PyTorch otherwise exports a bare Split)
    split/<name>/x.pb, y<k>.pb  the input (seeded, uniform in [-1, 1)) and PyTorch's outputs

Opset 11 writes `split` as an attribute, opset 13 as an input.
Run with Debian's Python (python3-torch): /usr/bin/python3 compiler/tests/data/gen_split.py
Seeded, so the files are reproducible; they are committed so that the tests need no Python.
"""
import os

import onnx.numpy_helper
import torch

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "split")


class Parts(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return tuple(p * 2.0 + 1.0 for p in self.fn(x))


# name: (function, input shape, opset)
CASES = {
    "split_sizes_axis1_opset13": (lambda x: torch.split(x, [1, 3, 2], dim=1), (2, 6, 3), 13),
    "split_equal_last_opset13": (lambda x: torch.split(x, 2, dim=-1), (3, 4, 6), 13),
    "split_uneven_opset11": (lambda x: torch.split(x, 4, dim=0), (10, 3), 11),
    "chunk_uneven_opset13": (lambda x: torch.chunk(x, 3, dim=2), (2, 3, 7), 13),
    "chunk_opset11": (lambda x: torch.chunk(x, 2, dim=1), (4, 8), 11),
}


def main():
    for name, (fn, shape, opset) in CASES.items():
        torch.manual_seed(len(name))
        x = torch.rand(shape) * 2 - 1
        m = Parts(fn)
        ys = m(x)
        d = os.path.join(HERE, name)
        os.makedirs(d, exist_ok=True)
        names = [f"y{k}" for k in range(len(ys))]
        torch.onnx.export(m, (x,), os.path.join(d, "model.onnx"), input_names=["x"], output_names=names,
                          opset_version=opset)
        for t, nm in [(x, "x")] + list(zip(ys, names)):
            p = onnx.numpy_helper.from_array(t.detach().numpy(), nm)
            with open(os.path.join(d, nm + ".pb"), "wb") as f:
                f.write(p.SerializeToString())


if __name__ == "__main__":
    main()
