#!/usr/bin/env python3
"""Tests of scripts/check_test_labels.py on synthetic CTest lists (test scripts.check_test_labels)."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_test_labels as c  # noqa: E402


def test(name, *labels):
    return {"name": name, "properties": [{"name": "LABELS", "value": list(labels)}] if labels else []}


class CheckTestLabels(unittest.TestCase):
    def test_backend_of_names(self):
        self.assertEqual(c.backend_of("Device.X/func"), "func")
        self.assertEqual(c.backend_of("Backends/E.Y/verilator  # GetParam() = \"verilator\""), "verilator")
        self.assertEqual(c.backend_of("Onnx/E2E.M/test_add_verilator  # GetParam() = test_add on verilator"),
                         "verilator")
        self.assertEqual(c.backend_of("OpenDevice.VerilatorRejects/func"), "func")  # the suffix decides
        self.assertEqual(c.backend_of("bench.stream_rtl"), "verilator")
        self.assertEqual(c.backend_of("tb_fp.ten_million_per_op"), "verilator")
        self.assertEqual(c.backend_of("demo.tiny_func"), "func")
        self.assertIsNone(c.backend_of("Pef.RoundTrip"))

    def test_problems(self):
        probs = c.problems_of([test("A.x/func", "unit"), test("A.x/func", "unit"), test("A.y/verilator", "e2e"),
                               test("c.run_func", "rtl"), test("n"), test("ok/verilator", "e2e", "rtl")])
        self.assertEqual(probs, ["test name 'A.x/func' occurs 2 times",
                                 "test 'A.y/verilator' runs on the Verilator backend but is not labelled rtl",
                                 "test 'c.run_func' runs on the functional model but is labelled rtl",
                                 "test 'n' has no label"])


if __name__ == "__main__":
    unittest.main()
