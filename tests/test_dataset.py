"""The course's SIGNS-format data: format, balance, determinism, loader and its error messages."""
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

import resnets_utils as ru
from bench.course import make_signs as load_generator

REPO = Path(__file__).resolve().parent.parent
make_signs = load_generator()

# sha256 of the arrays (x, then y) the generator makes with its default seed.
# If the generator changes on purpose, regenerate the data and update these two lines.
TRAIN_SHA = "1c309a636830fb6d2d3ed615c32a47293000592aa5948fe29bbfb99e4f79a83c"
TEST_SHA = "a125eae7b4e99d47d2dd0e6bc57c0fb6f8b03e55f171315d7df9f0e4cf8e940f"


def digest(x, y):
    return hashlib.sha256(np.ascontiguousarray(x).tobytes() + np.ascontiguousarray(y).tobytes()).hexdigest()


@pytest.fixture(scope="module")
def data():
    return ru.load_dataset()


@pytest.mark.parametrize("split, m", [("train", 1080), ("test", 120)])
def test_files_have_the_original_keys_shapes_and_dtypes(split, m):
    with h5py.File(REPO / "datasets" / f"{split}_signs.h5") as f:
        assert sorted(f.keys()) == sorted([f"{split}_set_x", f"{split}_set_y", "list_classes"])
        assert f[f"{split}_set_x"].shape == (m, 64, 64, 3) and f[f"{split}_set_x"].dtype == np.uint8
        assert f[f"{split}_set_y"].shape == (m,) and f[f"{split}_set_y"].dtype == np.int64
        assert f["list_classes"][:].tolist() == [0, 1, 2, 3, 4, 5]


def test_loader_returns_what_the_original_returned(data):
    x_train, y_train, x_test, y_test, classes = data
    assert x_train.shape == (1080, 64, 64, 3) and x_test.shape == (120, 64, 64, 3)
    assert y_train.shape == (1, 1080) and y_test.shape == (1, 120)
    assert classes.tolist() == list(range(6))


def test_classes_are_balanced(data):
    _, y_train, _, y_test, _ = data
    assert np.bincount(y_train.ravel()).tolist() == [180] * 6
    assert np.bincount(y_test.ravel()).tolist() == [20] * 6


def test_no_test_image_is_a_copy_of_a_training_image(data):
    x_train, _, x_test, _, _ = data
    train = {digest(x, 0) for x in x_train}
    assert not any(digest(x, 0) in train for x in x_test)


def test_committed_files_match_the_stored_checksums(data):
    x_train, y_train, x_test, y_test, _ = data
    assert digest(x_train, y_train.ravel()) == TRAIN_SHA
    assert digest(x_test, y_test.ravel()) == TEST_SHA


def test_generator_reproduces_the_committed_data_byte_for_byte(data):
    x_train, y_train, x_test, y_test, _ = data
    seed = make_signs.DEFAULT_SEED
    x, y = make_signs.make_split(make_signs.TEST_PER_CLASS, seed, "test")
    assert digest(x, y) == digest(x_test, y_test.ravel())
    picks = list(range(0, 1080, 9))   # a spread sample of the training set keeps the suite fast
    x, y = make_signs.make_split(make_signs.TRAIN_PER_CLASS, seed, "train", indices=picks)
    assert np.array_equal(x, x_train[picks]) and np.array_equal(y, y_train.ravel()[picks])


def test_another_seed_gives_other_images():
    a, _ = make_signs.make_split(1, 1, "test")
    b, _ = make_signs.make_split(1, 2, "test")
    assert not np.array_equal(a, b)


def raw_pixel_baselines(x_train, y_train, x_test, y_test) -> tuple[float, float]:
    """Test accuracy of nearest centroid and of 1-nearest-neighbour on raw pixels (squared distances summed
    exactly, one test image at a time: a (120, 1080, 12288) array of differences would take 12 GB)."""
    a = x_train.reshape(len(x_train), -1) / 255.0
    b = x_test.reshape(len(x_test), -1) / 255.0
    y_train, y_test = y_train.ravel(), y_test.ravel()
    centroids = np.stack([a[y_train == c].mean(0) for c in range(6)])
    centroid = np.array([np.argmin(((centroids - image) ** 2).sum(-1)) for image in b])
    neighbour = y_train[[np.argmin(((a - image) ** 2).sum(-1)) for image in b]]
    return float((centroid == y_test).mean()), float((neighbour == y_test).mean())


def test_raw_pixels_are_not_enough(data):
    """Difficulty that teaches something: nearest centroid and 1-nearest-neighbour on pixels stay below 0.60."""
    centroid, neighbour = raw_pixel_baselines(*data[:4])
    assert centroid < 0.60 and neighbour < 0.60


CPU_DISPATCH_LEVELS = ["AVX512_SPR", "AVX512_ICL", "X86_V4", "X86_V3"]   # NumPy 2's names, newest first


@pytest.mark.parametrize("switched_off", [2, 4], ids=["without-avx512", "without-avx2-or-avx512"])
def test_regeneration_does_not_depend_on_the_cpus_vector_units(data, switched_off):
    """NumPy picks SIMD loops at run time; the generator must give the same bytes whichever it picks."""
    from numpy._core._multiarray_umath import __cpu_features__

    levels = [f for f in CPU_DISPATCH_LEVELS if __cpu_features__.get(f)]
    env = dict(os.environ, NPY_DISABLE_CPU_FEATURES=" ".join(levels[:switched_off]))
    picks = list(range(0, 120, 10))
    plan = make_signs.train_plan(len(data[0]), make_signs.DEFAULT_SEED)
    shifted = [next(i for i, factors in enumerate(plan) if f in factors) for f in make_signs.STRESS_FACTORS]
    script = (f"import importlib.util, sys\n"
              f"spec = importlib.util.spec_from_file_location('make_signs', {str(REPO / 'datasets' / 'make_signs.py')!r})\n"
              f"m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
              f"x, y = m.make_split(m.TEST_PER_CLASS, m.DEFAULT_SEED, 'test', indices={picks})\n"
              f"sys.stdout.buffer.write(x.tobytes())\n"
              f"x, y = m.make_split(m.TRAIN_PER_CLASS, m.DEFAULT_SEED, 'train', indices={shifted})\n"
              f"sys.stdout.buffer.write(x.tobytes())")
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, timeout=300)
    assert run.returncode == 0, run.stderr.decode()[-2000:]
    x_train, x_test = data[0], data[2]
    expected = np.ascontiguousarray(x_test[picks]).tobytes() + np.ascontiguousarray(x_train[shifted]).tobytes()
    assert run.stdout == expected, "test images, or training images with a tilt, size, wall, light or turn shift"


def test_training_images_vary_like_the_stress_set_and_test_images_do_not(monkeypatch):
    """Domain randomisation: each training image shifts each stress factor with probability 1/4; no test image
    shifts, so the test score stays a score on the course's plain photographs."""
    plan = make_signs.train_plan(1080, make_signs.DEFAULT_SEED)
    for factor in make_signs.STRESS_FACTORS:
        assert 0.2 < np.mean([factor in factors for factors in plan]) < 0.3, factor
    assert 0.19 < np.mean([not factors for factors in plan]) < 0.29   # 0.75 ** 5 = 0.237 shift nothing
    assert plan == make_signs.train_plan(1080, make_signs.DEFAULT_SEED) != make_signs.train_plan(1080, 1)
    asked = []   # what each image was asked to shift, without rendering it
    monkeypatch.setattr(make_signs, "_render_one", lambda job: asked.append(job[2]) or np.zeros((64, 64, 3), np.uint8))
    make_signs.make_split(make_signs.TEST_PER_CLASS, make_signs.DEFAULT_SEED, "test")
    assert asked == [()] * 120
    asked.clear()
    make_signs.make_split(make_signs.TRAIN_PER_CLASS, make_signs.DEFAULT_SEED, "train", indices=range(40))
    assert asked == plan[:40]


def test_stress_set_is_balanced_shifted_and_not_in_the_files(data):
    x, y = make_signs.make_split(2, make_signs.DEFAULT_SEED, "stress")
    assert x.shape == (12, 64, 64, 3) and x.dtype == np.uint8
    assert np.bincount(y).tolist() == [2] * 6
    files = {digest(img, 0) for img in np.concatenate([data[0], data[2]])}
    assert not any(digest(img, 0) in files for img in x)


# ---- clear errors ---------------------------------------------------------------------------

@pytest.fixture
def folder(tmp_path):
    for split in ("train", "test"):
        shutil.copy(REPO / "datasets" / f"{split}_signs.h5", tmp_path)
    return tmp_path


def test_missing_file_names_the_file_and_the_command(folder):
    (folder / "test_signs.h5").unlink()
    with pytest.raises(ru.DatasetError) as e:
        ru.load_dataset(folder)
    assert "test_signs.h5 is missing" in str(e.value)
    assert "python datasets/make_signs.py" in str(e.value)


def test_corrupt_file_says_it_is_not_readable(folder):
    data = (folder / "train_signs.h5").read_bytes()
    (folder / "train_signs.h5").write_bytes(data[: len(data) // 3])   # a truncated download
    with pytest.raises(ru.DatasetError, match="not a readable HDF5 file"):
        ru.load_dataset(folder)
    (folder / "train_signs.h5").write_text("<html>404 Not Found</html>")
    with pytest.raises(ru.DatasetError, match="train_signs.h5 is not a readable HDF5 file"):
        ru.load_dataset(folder)


def test_foreign_file_names_the_missing_key(folder):
    with h5py.File(folder / "train_signs.h5", "w") as f:
        f["images"] = np.zeros((2, 64, 64, 3), np.uint8)
    with pytest.raises(ru.DatasetError, match="no 'train_set_x' dataset .*it has: images"):
        ru.load_dataset(folder)


@pytest.mark.parametrize("x, problem", [
    (np.zeros((4, 32, 32, 3), np.uint8), r"shape \(4, 32, 32, 3\)"),
    (np.zeros((4, 64, 64, 3), np.float32), "dtype float32"),
])
def test_wrong_image_shape_or_dtype_is_named(folder, x, problem):
    with h5py.File(folder / "train_signs.h5", "w") as f:
        f["train_set_x"], f["train_set_y"], f["list_classes"] = x, np.zeros(4, np.int64), np.arange(6)
    with pytest.raises(ru.DatasetError, match=problem):
        ru.load_dataset(folder)


def test_label_count_mismatch_is_named(folder):
    with h5py.File(folder / "train_signs.h5", "w") as f:
        f["train_set_x"] = np.zeros((4, 64, 64, 3), np.uint8)
        f["train_set_y"], f["list_classes"] = np.zeros(3, np.int64), np.arange(6)
    with pytest.raises(ru.DatasetError, match="one label per image"):
        ru.load_dataset(folder)


def test_original_signs_files_load_unchanged(tmp_path):
    """The original files hold the same keys; extra attributes or keys do not matter."""
    rng = np.random.default_rng(0)
    for split, m in (("train", 1080), ("test", 120)):
        with h5py.File(tmp_path / f"{split}_signs.h5", "w") as f:
            f[f"{split}_set_x"] = rng.integers(0, 256, (m, 64, 64, 3), dtype=np.uint8)
            f[f"{split}_set_y"] = rng.integers(0, 6, m).astype(np.int64)
            f["list_classes"] = np.arange(6, dtype=np.int64)
            f.attrs["source"] = "original"
    x_train, y_train, x_test, y_test, classes = ru.load_dataset(tmp_path)
    assert x_train.shape == (1080, 64, 64, 3) and y_test.shape == (1, 120)


def test_generator_never_leaves_a_half_written_file(tmp_path, monkeypatch):
    target = tmp_path / "train_signs.h5"
    target.write_bytes(b"previous good file")

    def explode(*args, **kwargs):
        raise KeyboardInterrupt   # the user presses Ctrl-C mid-write

    monkeypatch.setattr(h5py.File, "create_dataset", explode, raising=False)
    monkeypatch.setattr(h5py.Group, "create_dataset", explode)
    with pytest.raises(KeyboardInterrupt):
        make_signs.write_h5_atomic(target, "train", np.zeros((1, 64, 64, 3), np.uint8), np.zeros(1, np.int64))
    assert target.read_bytes() == b"previous good file"
    assert list(tmp_path.iterdir()) == [target]


def test_generator_command_line_writes_loadable_files(tmp_path, monkeypatch):
    monkeypatch.setattr(make_signs, "TRAIN_PER_CLASS", 2)
    monkeypatch.setattr(make_signs, "TEST_PER_CLASS", 1)
    make_signs.main(["--out", str(tmp_path), "--images", str(tmp_path), "--seed", "5", "--workers", "2"])
    x_train, y_train, x_test, y_test, _ = ru.load_dataset(tmp_path)
    assert x_train.shape == (12, 64, 64, 3) and x_test.shape == (6, 64, 64, 3)
    assert (tmp_path / "my_image.jpg").exists() and (tmp_path / "signs_samples.png").exists()
    assert oct((tmp_path / "train_signs.h5").stat().st_mode & 0o777) == "0o644"


def test_my_image_is_a_photo_sized_rgb_image():
    from PIL import Image

    img = Image.open(REPO / "images" / "my_image.jpg")
    assert img.mode == "RGB" and img.size == (256, 256)


def test_a_linear_model_on_pixels_stays_below_70_percent(data):
    """Softmax regression on standardised pixels (full-batch gradient descent, as in README's table)."""
    x_train, y_train, x_test, y_test, _ = data
    a = x_train.reshape(1080, -1) / 255.0
    b = x_test.reshape(120, -1) / 255.0
    mean, std = a.mean(0), a.std(0) + 1e-6
    a, b = (a - mean) / std, (b - mean) / std
    y = y_train.ravel()
    targets = np.eye(6)[y]
    w = np.zeros((a.shape[1], 6))
    for _ in range(300):
        z = a @ w
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        w -= 0.5 * (a.T @ (p - targets) / len(a) / a.shape[1] * 100 + 1e-3 * w)
    assert ((a @ w).argmax(1) == y).mean() > 0.45, "the linear model should at least learn its training set"
    assert ((b @ w).argmax(1) == y_test.ravel()).mean() < 0.70


# ---- the validation images held out of the training file -------------------------------------

def test_hold_out_validation_takes_per_class_images_of_every_class(data):
    x_file, y_file, *_ = data
    (x_train, y_train), (x_val, y_val) = ru.hold_out_validation(x_file, y_file, per_class=15)
    assert x_val.shape == (90, 64, 64, 3) and y_val.shape == (1, 90)
    assert x_train.shape == (990, 64, 64, 3) and y_train.shape == (1, 990)
    assert np.bincount(y_val.ravel()).tolist() == [15] * 6
    assert np.bincount(y_train.ravel()).tolist() == [165] * 6


def test_held_out_images_are_disjoint_and_together_are_the_training_file(data):
    x_file, y_file, *_ = data
    (x_train, y_train), (x_val, y_val) = ru.hold_out_validation(x_file, y_file)
    train = [digest(x, y) for x, y in zip(x_train, y_train.ravel())]
    val = [digest(x, y) for x, y in zip(x_val, y_val.ravel())]
    assert not set(train) & set(val)
    assert sorted(train + val) == sorted(digest(x, y) for x, y in zip(x_file, y_file.ravel()))


def test_hold_out_validation_keeps_the_training_order_and_depends_only_on_the_seed():
    x = np.arange(60).reshape(60, 1)          # each "image" is its index in the file
    y = np.arange(60) % 3
    (a_train, _), (a_val, _) = ru.hold_out_validation(x, y, per_class=4, seed=7)
    (b_train, _), (b_val, _) = ru.hold_out_validation(x, y, per_class=4, seed=7)
    (_, _), (c_val, _) = ru.hold_out_validation(x, y, per_class=4, seed=8)
    assert np.array_equal(a_train, b_train) and np.array_equal(a_val, b_val)
    assert not np.array_equal(a_val, c_val)
    assert np.all(np.diff(a_train.ravel()) > 0) and np.all(np.diff(a_val.ravel()) > 0)   # file order, both parts


@pytest.mark.parametrize("shape", ["(1, m)", "(m,)"])
def test_hold_out_validation_returns_labels_shaped_as_given(shape):
    """Any labels, any counts, as in the original SIGNS files: labels 0 to 5, unbalanced."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 6, 200)
    x = rng.integers(0, 256, (200, 64, 64, 3), dtype=np.uint8)
    labels = y.reshape(1, -1) if shape == "(1, m)" else y
    (x_train, y_train), (x_val, y_val) = ru.hold_out_validation(x, labels, per_class=5)
    assert y_train.shape == ((1, 170) if shape == "(1, m)" else (170,))
    assert y_val.shape == ((1, 30) if shape == "(1, m)" else (30,))
    assert np.bincount(y_val.ravel(), minlength=6).tolist() == [5] * 6
    assert np.array_equal(np.bincount(y_train.ravel(), minlength=6), np.bincount(y, minlength=6) - 5)
    for images, part in ((x_train, y_train), (x_val, y_val)):   # every image keeps its own label
        index = {digest(img, 0): label for img, label in zip(x, y)}
        assert [index[digest(img, 0)] for img in images] == part.ravel().tolist()


def test_hold_out_validation_works_on_labels_that_skip_a_class():
    y = np.array([0, 0, 2, 2, 2, 5, 5])
    (_, y_train), (_, y_val) = ru.hold_out_validation(np.zeros((7, 1)), y, per_class=1)
    assert sorted(y_val.tolist()) == [0, 2, 5] and len(y_train) == 4


@pytest.mark.parametrize("x, y, kwargs, message", [
    (np.zeros((10, 2)), np.array([0] * 8 + [1] * 2), {"per_class": 2},
     "class 1 has only 2 images: holding out 2 for validation would leave none for training"),
    (np.zeros((10, 2)), np.zeros(9, np.int64), {}, "10 images but 9 labels"),
    (np.zeros((10, 2)), np.zeros((10, 6)), {}, r"labels have shape \(10, 6\).*before one-hot encoding"),
    (np.zeros((10, 2)), np.zeros((2, 5)), {}, r"labels have shape \(2, 5\); expected \(1, m\)"),
    (np.zeros((0, 2)), np.zeros(0, np.int64), {}, "no images"),
])
def test_hold_out_validation_explains_what_is_wrong(x, y, kwargs, message):
    with pytest.raises(ru.DatasetError, match=message):
        ru.hold_out_validation(x, y, **kwargs)


def test_hold_out_validation_wants_at_least_one_image_per_class():
    with pytest.raises(ru.CourseError, match="at least 1"):
        ru.hold_out_validation(np.zeros((4, 1)), np.zeros(4, np.int64), per_class=0)


def test_load_dataset_still_returns_the_five_values_of_the_original_loader(data):
    assert len(data) == 5 and data[0].shape[0] == 1080   # the held-out images are the caller's choice
