"""Tests of the peers' sparse-weight plumbing (student.py, sparse_weights.py)
and of bench.py's work-folder guard. Run in the peers' environment:

    bench/peers/.venv/bin/python -m unittest discover -s bench/peers -p 'test_*.py'
"""
import io
import json
import sys
import tempfile
import unittest
from contextlib import redirect_stderr
from pathlib import Path
from unittest import mock

import numpy as np
from safetensors.numpy import load_file, save_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402
import student  # noqa: E402
import sparse_weights  # noqa: E402

QUERY = "bert.encoder.layer.0.attention.self.query.weight"
VALUE = "bert.encoder.layer.0.attention.self.value.weight"


def snapshot(d: Path, block=("4", "1"), mask_shape=(2, 3), quantization=True):
    """A snapshot directory of fastbert train's layout: 8x3 query and value
    weights, all nonzero; the query's mask prunes block (0, 1), the value has
    none."""
    d.mkdir(parents=True)
    w = np.arange(1, 25, dtype=np.float32).reshape(8, 3)
    save_file({QUERY: w, VALUE: w.copy(), "qa_outputs.weight": np.ones((2, 3), np.float32)},
              str(d / "model.safetensors"), metadata={"format": "pt"})
    mask = np.ones(mask_shape, dtype=np.uint8)
    mask[0, 1] = 0
    save_file({QUERY[:-len(".weight")] + ".weight.mask": mask}, str(d / "masks.safetensors"),
              metadata={"format": "fastbert-block-masks", "block_rows": block[0], "block_cols": block[1]})
    (d / "config.json").write_text("{}")
    if quantization:
        (d / "quantization.json").write_text("{}")
    return w


def run_student(snap: Path, out: Path):
    with mock.patch.object(sys, "argv", ["student.py", "--snapshot", str(snap), "--out", str(out)]), \
            redirect_stderr(io.StringIO()):
        return student.main()


class StudentTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def test_PrunedBlocksAreZeroedForEveryEngineAndCounted(self):
        w = snapshot(self.dir / "s80")
        run_student(self.dir / "s80", self.dir / "out")
        got = load_file(str(self.dir / "out" / "model.safetensors"))
        want = w.copy()
        want[0:4, 1] = 0
        np.testing.assert_array_equal(got[QUERY], want)
        np.testing.assert_array_equal(got[VALUE], w)  # no mask: untouched
        source = json.loads((self.dir / "out" / sparse_weights.SOURCE_FILE).read_text())
        self.assertEqual(source["nonzero_weights_removed_by_masks"], 4)
        self.assertEqual(source["source"], "student")
        self.assertAlmostEqual(source["block_sparsity"], 1 / 12)  # 1 of the 2x3 + 2x3 blocks
        self.assertTrue((self.dir / "out" / "quantization.json").is_file())
        self.assertTrue((self.dir / "out" / "config.json").is_file())

    def test_MasksOfAnotherBlockShapeAreRefused(self):
        snapshot(self.dir / "s80", block=("1", "4"))
        with self.assertRaisesRegex(SystemExit, r"masks\.safetensors: masks of 1x4 blocks"):
            run_student(self.dir / "s80", self.dir / "out")

    def test_MaskOfTheWrongShapeIsRefusedNamingIt(self):
        snapshot(self.dir / "s80", mask_shape=(3, 3))
        with self.assertRaisesRegex(SystemExit, r"query\.weight\.mask' is \[3, 3\], expected \[2, 3\]"):
            run_student(self.dir / "s80", self.dir / "out")

    def test_SnapshotWithoutItsQuantizationIsRefused(self):
        snapshot(self.dir / "s80", quantization=False)
        with self.assertRaisesRegex(SystemExit, r"quantization\.json: no such file"):
            run_student(self.dir / "s80", self.dir / "out")
        self.assertFalse((self.dir / "out").exists())

    def test_SnapshotWithoutMasksIsRefused(self):
        snapshot(self.dir / "s80")
        (self.dir / "s80" / "masks.safetensors").unlink()
        with self.assertRaisesRegex(SystemExit, r"masks\.safetensors: no such file"):
            run_student(self.dir / "s80", self.dir / "out")


class WorkFolderTest(unittest.TestCase):
    def test_WorkFolderOfOtherSparseWeightsIsRefused(self):
        with tempfile.TemporaryDirectory() as t:
            work = Path(t)
            bench.check_work_sources(work, {"checkpoint": ["a", 1, 2], "sparse": "one-shot 0.8"})
            bench.check_work_sources(work, {"checkpoint": ["a", 1, 2], "sparse": "one-shot 0.8"})  # same: reused
            with self.assertRaisesRegex(SystemExit, r"sources\.json: key 'sparse' is one-shot 0\.8, but this run's "
                                                    r"is \['s80', 3, 4\]"):
                bench.check_work_sources(work, {"checkpoint": ["a", 1, 2], "sparse": ["s80", 3, 4]})

    def test_WorkFolderOfUnknownWeightsIsRefused(self):
        with tempfile.TemporaryDirectory() as t:
            work = Path(t)
            (work / "sparse-int8.fbm").write_bytes(b"")  # an export of an older run, which recorded no sources
            with self.assertRaisesRegex(SystemExit, r"holds files but no sources\.json"):
                bench.check_work_sources(work, {"checkpoint": ["a", 1, 2], "sparse": "one-shot 0.8"})
            self.assertFalse((work / "sources.json").exists())


if __name__ == "__main__":
    unittest.main()
