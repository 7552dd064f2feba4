"""The real photographs (datasets/real/): licence, a reproducible conversion, and splits that keep every hand
in one split."""
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import h5py
import numpy as np
import pytest

import resnets_utils as ru
from tests.test_dataset import digest

REPO = Path(__file__).resolve().parent.parent
REAL = REPO / "datasets" / "real"
SCRIPT = REPO / "datasets" / "make_real_signs.py"

# sha256 of each split's arrays (images, then labels). If the conversion changes on purpose, run
# `python datasets/make_real_signs.py` and update these.
SHA = {"train": "702de7e6f83566335de02747305f2f4bea592f72e1bc916cb63cbe2771977d02",
       "validation": "396071893381a8813494d75ce0c3a142d51161790444d30c48d17a13344898b2",
       "test": "b0fa55383fb2e470b358a9f331e1135015e778fc18069281c11f4ec495f21d2d"}
COUNTS = {"train": 636, "validation": 277, "test": 324}


def converter():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_real_signs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stored(split: str) -> dict:
    with h5py.File(REAL / f"{split}_signs.h5", "r") as f:
        return {key: f[key][:] for key in f}


def test_the_photos_are_the_upstream_subset_with_its_licence_and_notice():
    photos = sorted((REAL / "photos").glob("*/IMG_*.JPG"))
    assert len(photos) == 1237 and {p.parent.name for p in photos} == {str(d) for d in range(6)}
    assert "Apache License" in (REAL / "LICENSE").read_text() and "Version 2.0" in (REAL / "LICENSE").read_text()
    notice = (REAL / "README.md").read_text()
    assert "Copyright 2017 Arda Mavi" in notice and "What the course changed" in notice
    assert "datasets/real/photos/" in (REPO / "LICENSE").read_text(), "the MIT licence says what it does not cover"


@pytest.mark.parametrize("split", COUNTS)
def test_each_split_is_a_signs_file_the_loaders_read(split):
    data = stored(split)
    assert data[f"{split}_set_x"].shape == (COUNTS[split], 64, 64, 3) and data[f"{split}_set_x"].dtype == np.uint8
    assert data["list_classes"].tolist() == list(range(6))
    assert np.bincount(data[f"{split}_set_y"], minlength=6).min() >= 40, "every sign in every split"
    assert digest(data[f"{split}_set_x"], data[f"{split}_set_y"]) == SHA[split]


def test_load_dataset_reads_the_real_folder_as_it_reads_the_original_files():
    x_train, y_train, x_test, y_test, classes = ru.load_dataset(REAL)
    assert x_train.shape == (636, 64, 64, 3) and y_test.shape == (1, 324) and classes.tolist() == list(range(6))


def test_load_real_photos_reads_each_split_and_names_a_wrong_one(tmp_path):
    for split, count in COUNTS.items():
        x, y = ru.load_real_photos(split)
        assert x.shape == (count, 64, 64, 3) and x.dtype == np.uint8 and y.shape == (count,)
        assert digest(x, y) == SHA[split]
    with pytest.raises(ru.CourseError, match="'train', 'validation', 'test'"):
        ru.load_real_photos("val")
    with pytest.raises(ru.DatasetError, match="make_real_signs.py"):
        ru.load_real_photos("test", tmp_path)


def test_no_run_of_neighbouring_photos_crosses_a_split():
    """One student took the ten digits a few seconds apart, so photos close in file number and in time are one
    hand. Joining every two consecutive photos (in file-number order) taken within 10 minutes of each other
    gives runs far coarser than one hand; each run must lie in one split."""
    files = {split: stored(split) for split in COUNTS}
    rows = sorted((int(n), split, datetime.strptime(t.decode(), "%Y:%m:%d %H:%M:%S"))
                  for split, data in files.items() for n, t in zip(data["file_number"], data["taken"]))
    assert len(rows) == 1237 and len({r[0] for r in rows}) == 1237
    runs, crossing = 1, []
    for before, after in zip(rows, rows[1:]):
        if (after[2] - before[2]).total_seconds() <= 600:
            if before[1] != after[1]:
                crossing.append((before, after))
        else:
            runs += 1
    assert not crossing, f"photos of one sitting in two splits: {crossing[:3]}"
    assert runs >= 4, "the four shooting days at least"
    test_days = {r[2].date() for r in rows if r[1] == "test"}
    assert test_days == {datetime(2017, 12, 15).date()} and not any(
        r[2].date() in test_days for r in rows if r[1] != "test")


def test_the_conversion_reproduces_the_files_with_the_vector_units_and_the_jpeg_simd_off():
    """Pillow's JPEG decoder (libjpeg-turbo) picks SIMD code at run time, as NumPy does: the images must be
    the same bytes without either."""
    from numpy._core._multiarray_umath import __cpu_features__

    levels = [f for f in ("AVX512_SPR", "AVX512_ICL", "X86_V4", "X86_V3") if __cpu_features__.get(f)]
    for env in ({}, {"JSIMD_FORCENONE": "1", "NPY_DISABLE_CPU_FEATURES": " ".join(levels)}):
        run = subprocess.run([sys.executable, str(SCRIPT), "--check"], env=dict(os.environ, **env),
                             capture_output=True, text=True, timeout=300)
        assert run.returncode == 0 and run.stdout.count("identical") == 3, (env, run.stdout, run.stderr[-2000:])


def test_the_check_notices_a_changed_file(tmp_path, monkeypatch):
    module = converter()
    splits = module.make_splits()
    monkeypatch.setattr(module, "OUT", tmp_path)
    for split in module.SPLITS:
        module.write(tmp_path / f"{split}_signs.h5", split, splits[split])
    assert module.main(["--check"]) == 0
    with h5py.File(tmp_path / "test_signs.h5", "r+") as f:
        f["test_set_y"][0] = (f["test_set_y"][0] + 1) % 6
    assert module.main(["--check"]) == 1
