"""The benchmarks measure what students run: they read the model and the recipe from the notebooks."""
import json

import pytest

from bench import machine
from bench.course import apply_recipe, course_resnet50, recipe_cell
from bench.train_speed import matmul_gflops


def test_recipe_is_notebook_04s_cell():
    source = recipe_cell()
    assert "EPOCHS =" in source and "compile_for_training(model, " in source


def test_course_resnet50_is_the_graded_solution_with_its_recipe():
    import keras
    import numpy as np

    model = course_resnet50()(input_shape=(64, 64, 3), classes=6)
    assert model.count_params() == 23_600_006
    kinds = {type(layer) for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)}
    assert kinds == {keras.layers.BatchNormalization}, f"the model holds Keras's own layer (it saves as such); {kinds}"
    labels = np.eye(6, dtype=np.float32)[np.arange(1080) % 6]
    ns = apply_recipe(model, np.zeros((1080, 64, 64, 3), np.float32), labels)
    assert ns["EPOCHS"] >= 1 and ns["BATCH_SIZE"] == 16 and model.optimizer is not None   # notebook 04's recipe
    zero_gamma = [layer for layer in model.layers
                  if isinstance(layer, keras.layers.BatchNormalization) and not np.any(layer.gamma.numpy())]
    assert len(zero_gamma) == 16, "the recipe starts each of the 16 blocks as its shortcut"
    assert model.optimizer.built, "the recipe creates Adam's variables before fit (one trace, not two)"


def test_signs_for_training_is_notebook_04s_split():
    """Train, validation and test as notebook 04's data cell makes them: the validation images come out of
    the training file, the test file stays whole."""
    import numpy as np

    from bench.course import signs_for_training
    from resnets_utils import load_dataset

    (x_train, y_train), (x_val, y_val), (x_test, y_test) = signs_for_training()
    assert x_train.shape == (990, 64, 64, 3) and x_val.shape == (90, 64, 64, 3) and x_test.shape == (120, 64, 64, 3)
    assert y_train.shape == (990, 6) and y_val.sum(axis=0).tolist() == [15] * 6 and y_test.shape == (120, 6)
    assert x_train.dtype == np.float32 and 0 <= x_train.min() and x_train.max() <= 1
    file_images = load_dataset()[0].reshape(1080, -1)
    split = np.concatenate([x_train, x_val]).reshape(1080, -1)
    assert np.array_equal(np.unique(np.round(split * 255).astype(np.uint8), axis=0), np.unique(file_images, axis=0))


def test_time_to_accuracy_scores_test_and_stress_sets_once_after_training():
    import numpy as np

    from bench.course import make_signs
    from bench.time_to_accuracy import images_needed, recall_per_class, table

    assert images_needed(0.95, 120) == 114 and images_needed(0.951, 120) == 115
    assert recall_per_class(np.array([0, 0, 1, 1, 2]), np.array([0, 1, 1, 1, 0]), 4) == [0.5, 1.0, 0.0, None]
    assert callable(make_signs().make_stress_set)
    run = {"seed": 1, "epochs": 14, "final_validation_accuracy": 0.9667, "final_test_accuracy": 0.975,
           "test_correct": 117, "test_images": 120, "test_margin_images": 3, "stress_recall": [1.0, 0.9, 1, 1, 1, 0.8],
           "seconds": 200.0, "first_epoch_seconds": 20.0, "first_reached": {"epoch": 9, "seconds": 130.0}}
    worse = {**run, "seed": 2, "test_margin_images": -1, "stress_recall": [0.7, 1, 1, 1, 1, 1], "first_reached": None}
    text = table([run, worse], 0.95, {"cpu": "a CPU", "threads": 2})
    assert "0.967" in text and "0.975" in text and "+3" in text and "-1" in text and "never" in text
    assert "stress recall, min over seeds, per class: 0: 0.70, 1: 0.90, 2: 1.00, 3: 1.00, 4: 1.00, 5: 0.80" in text
    assert "real test photos" not in text
    photos = {"real_test_accuracy": 0.95, "real_test_recall": [1.0, 0.9, 0.9, 1.0, 0.9, 1.0]}
    text = table([{**run, **photos}, {**worse, **photos, "real_test_accuracy": 0.9}], 0.95, {"cpu": "a CPU", "threads": 2})
    assert "real test photos: 0.950, 0.900 (mean 0.925); min over seeds per class: 0: 1.00, 1: 0.90" in text


def test_time_to_accuracy_finishes_and_scores_as_notebook_04_does():
    """After fit, notebook 04's own cell re-measures BatchNorm's statistics on the training images; images are
    then read as the notebook reads them, each averaged with its mirror image."""
    import keras
    import numpy as np

    from bench.course import batchnorm_cell, finish_training
    from bench.time_to_accuracy import predicted_classes

    assert "reestimate_batchnorm_statistics(model, train_images)" in batchnorm_cell()
    inputs = keras.Input((4, 4, 1))
    conv = keras.layers.Conv2D(2, 3, padding="same", kernel_initializer=keras.initializers.GlorotUniform(seed=0))
    norm = keras.layers.BatchNormalization()
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(norm(conv(inputs))))
    model = keras.Model(inputs, outputs)
    model.compile(loss="categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x, y = rng.random((20, 4, 4, 1), np.float32) * 4, np.eye(3, dtype=np.float32)[rng.integers(0, 3, 20)]
    before, after = finish_training({"model": model}, x, x[:6], y[:6])
    assert 0 <= before <= 1 and 0 <= after <= 1
    np.testing.assert_allclose(norm.moving_mean.numpy(), conv(x).numpy().mean(axis=(0, 1, 2)), rtol=1e-5)
    mirrored = x[:, :, ::-1]
    plain = model.predict(x, verbose=0).argmax(axis=1), model.predict(mirrored, verbose=0).argmax(axis=1)
    assert (plain[0] != plain[1]).any(), "this model reads some images differently from their mirror images"
    assert np.array_equal(predicted_classes(model, x, 8), predicted_classes(model, mirrored, 8))


def test_time_to_accuracy_names_the_stress_factor_that_does_the_harm():
    import numpy as np

    from bench.time_to_accuracy import table, top_confusions

    true, read = np.array([1, 1, 1, 2, 2, 5, 5, 0]), np.array([3, 3, 1, 3, 2, 4, 4, 0])
    assert top_confusions(true, read) == ["1>3 (2)", "5>4 (2)", "2>3 (1)"]
    assert top_confusions(true, true) == []
    base = {"seed": 1, "epochs": 14, "final_validation_accuracy": 1.0, "final_test_accuracy": 1.0, "test_correct": 120,
            "test_images": 120, "test_margin_images": 6, "stress_recall": [1.0] * 6, "seconds": 1.0,
            "first_epoch_seconds": 1.0, "first_reached": None}
    runs = [{**base, "seed": 1, "stress_by_factor": {"tilt": {"recall": [1, 0.5, 1, 1, 1, 1], "confusions": ["1>0 (5)"]}}},
            {**base, "seed": 2, "stress_by_factor": {"tilt": {"recall": [1, 1, 1, 1, 1, 0.7], "confusions": ["5>4 (3)"]}}}]
    text = table(runs, 0.95, {"cpu": "a CPU", "threads": 2})
    assert "only tilt  shifted: mean 0.93, min over seeds 0: 1.00, 1: 0.50, 2: 1.00, 3: 1.00, 4: 1.00, 5: 0.70" in text
    assert "1>0 (5)" in text
    assert "only" not in table([base], 0.95, {"cpu": "a CPU", "threads": 2})


def test_machine_description_and_results_path(tmp_path, monkeypatch):
    monkeypatch.setattr(machine, "RESULTS", tmp_path)
    info = machine.describe_machine()
    assert info["threads"] >= 1 and info["tensorflow"]
    path = machine.results_path("x")
    assert path.parent == tmp_path and path.name.startswith("x-") and path.suffix == ".json"
    json.dumps(info)


def test_the_peak_is_a_measured_matrix_product():
    assert matmul_gflops(n=256, repeats=2) > 0.1


def test_only_plain_keras_applications_trains_without_the_fused_kernel():
    from bench.train_speed import uses_fused_batchnorm

    assert not uses_fused_batchnorm("keras.applications")
    assert all(uses_fused_batchnorm(k) for k in ("course", "keras.applications+fused-bn", "course-xla", "course-bf16"))


def test_summary_reads_the_four_measurements_from_the_results():
    from bench.__main__ import SCRIPTS, summary

    # The committed results of the README's machine (this one's may not exist yet).
    results = {script: json.loads((machine.RESULTS / f"{script}-amd-epyc-2t.json").read_text()) for script in SCRIPTS}
    results["train_speed"]["rows"][0]["images_per_second"] = 2 * results["train_speed"]["rows"][1]["images_per_second"]
    results["time_to_accuracy"]["runs"][0].update(first_reached={"epoch": 3, "seconds": 61.0, "validation_accuracy": 0.96})
    text = summary(**results)
    assert "2.00x keras.applications" in text
    assert "61 s (epoch 3 of" in text and "validation accuracy" in text and "final test accuracy" in text
    assert f"{results['course_time']['total_seconds']:.0f} s (" in text
    results["time_to_accuracy"]["runs"][0]["first_reached"] = None
    assert "not reached in" in summary(**results)
    measured = {**results["train_speed"], "fp32_matmul_gflops": 476.2}
    measured["rows"] = [{**measured["rows"][0], "gflops": 150.4, "fraction_of_fp32_matmul": 0.316}, *measured["rows"][1:]]
    assert "150, 32% of a float32 matrix product's 476" in summary(**{**results, "train_speed": measured})


def test_grading_benchmark_class_mixes_correct_wrong_and_blank_work(tmp_path):
    from bench import grading
    from tests.submissions import tagged

    kinds = grading.write_class(tmp_path, students=4, resnet50=1)
    assert sorted(kinds.values()) == ["blank", "correct", "correct", "wrong"]
    handed_in = {student: sorted(p.stem for p in (tmp_path / student).glob("*.ipynb")) for student in kinds}
    assert handed_in["s00-correct"] == sorted(grading.NOTEBOOKS + ("04_resnet50",))   # 04 only from correct work
    assert handed_in["s03-correct"] == handed_in["s01-wrong"] == sorted(grading.NOTEBOOKS)
    for name in grading.NOTEBOOKS:
        graded = {kind: [c.source for _, c in tagged(grading.submission(name, kind), "graded")] for kind in grading.KINDS}
        assert graded["wrong"] != graded["correct"] != graded["blank"], name   # every notebook has a wrong answer


def test_grading_benchmark_table_gives_the_speed_up_over_serial():
    from bench.grading import table

    runs = [{"mode": "serial", "seconds": 120.0, "submissions_per_minute": 24.0, "same_rows_as_serial": None},
            {"mode": "jobs 2", "seconds": 80.0, "submissions_per_minute": 36.0, "same_rows_as_serial": True}]
    text = table(runs, {"cpu": "a CPU", "threads": 2}, 48)
    assert "1.50x" in text and "1.00x" in text and text.startswith("Grading 48 submissions")


def test_the_suite_time_is_read_from_a_ci_log_and_a_failing_run_is_refused(tmp_path):
    from bench import suite_time

    log = ("tests/test_a.py ....\n============================= slowest 20 durations =============================\n"
           "281.78s call     tests/test_block_mistakes.py::test_nbval_fails_on_every_mistake\n"
           "12.50s setup    notebooks/02_identity_block.ipynb::Cell 3\n"
           "================= 631 passed, 2 warnings in 1815.65s (0:30:15) =================\n")
    run = suite_time.read_log(log)
    assert (run["passed"], run["failed"], run["seconds"]) == (631, 0, 1815.65)
    assert run["slowest"][1] == [12.5, "setup", "notebooks/02_identity_block.ipynb::Cell 3"]
    (tmp_path / "ci.log").write_text(log.replace("631 passed", "1 failed, 630 passed"))
    with pytest.raises(SystemExit, match="1 failed"):
        suite_time.main([str(tmp_path / "ci.log")])
    with pytest.raises(ValueError, match="no pytest summary"):
        suite_time.read_log("collected 3 items\n")


def test_recipe_ablation_takes_out_one_choice_per_variant():
    """Each variant is notebook 04's recipe cell with exactly one edit that still finds its text; the test
    images are never read."""
    import inspect

    from bench import recipe_ablation

    final = recipe_cell()
    changed = {v: recipe_ablation.variant_cell(v) for v in recipe_ablation.VARIANTS}
    assert changed["final"] == final
    for variant, source in changed.items():
        if variant not in ("final", "no augmentation"):   # no augmentation swaps `augment` after the cell runs
            assert source != final and len(source.splitlines()) == len(final.splitlines()), variant
    assert "start_blocks_as_identity" not in changed["no zero-gamma"]
    assert "CosineDecay" not in changed["constant learning rate"]
    with pytest.raises(ValueError, match="no longer contains"):
        recipe_ablation.VARIANTS["broken"] = ("a choice", [("no such text", "")])
        try:
            recipe_ablation.variant_cell("broken")
        finally:
            del recipe_ablation.VARIANTS["broken"]
    source = inspect.getsource(recipe_ablation.train_variant)
    assert "x_test" not in source and "test_batches(x_val" in source


def test_recipe_ablation_judges_on_plain_cross_entropy_and_stress_recall():
    import numpy as np

    from bench.recipe_ablation import READINGS, cross_entropy, notebook_table

    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]])
    assert cross_entropy(probabilities, np.array([0, 1, 0])) == pytest.approx(-np.log([0.9, 0.8, 0.5]).mean())

    def reading(loss, mean, lowest):
        return {"validation_loss": loss, "stress_mean": mean, "stress_lowest": lowest}

    runs = [{"variant": v, "seed": s, "readings": {r: reading(0.1 * s, 0.9, 0.8) for r in READINGS}}
            for v in ("final", "no augmentation", "no zero-gamma", "no label smoothing", "batches of 32",
                      "constant learning rate", "BatchNorm momentum 0.99") for s in (1, 2)]
    runs[0]["readings"]["mirrored"] = reading(0.5, 0.85, 0.7)   # the final recipe, seed 1, without precise BatchNorm
    text = notebook_table(runs)
    assert "| precise BatchNorm | 0.500 / 0.200 | 0.70 / 0.80 |" in text
    assert len(text.splitlines()) == 2 + 9
    with pytest.raises(ValueError, match="same seeds"):
        notebook_table(runs[:-1])


def test_fine_tuning_bench_gives_every_k_the_same_number_of_update_steps():
    from bench.fine_tuning import BATCH
    from resnets_course.transfer import epochs_for

    assert BATCH == 16 and epochs_for(636, 480) == 12 and epochs_for(30, 480) == 240 and epochs_for(600, 1) == 1


def test_fine_tuning_bench_prepares_models_with_the_reference_solution(capsys):
    """The bench fine-tunes with the code the check passes, not a copy of its own."""
    from bench.fine_tuning import prepare_fine_tuning
    from resnets_course.checks.transfer import check_prepare_fine_tuning

    check_prepare_fine_tuning(prepare_fine_tuning(), 1e-4)
    assert capsys.readouterr().out.strip() == "All tests passed."


def test_bench_readme_holds_the_committed_fine_tuning_choices():
    from bench.fine_tuning import choose_table

    runs = json.loads((machine.RESULTS / "fine_tuning-amd-epyc-2t.json").read_text())["runs"]
    assert choose_table(runs) in (machine.RESULTS.parent / "README.md").read_text()
    assert not any("test" in r for r in runs if r["key"]["kind"] == "choose"), "choices never read the test split"


def test_bench_readme_and_notebook_06_hold_the_committed_sweep():
    """bench/README's sweep table and the numbers notebook 06 plots (resnets_course/fine_tuning_benchmark.json)
    are the committed result file's; the sweep fine-tunes with the settings notebook 06 uses."""
    from bench.fine_tuning import CHOSEN, benchmark_summary, sweep_table
    from resnets_course import transfer

    runs = json.loads((machine.RESULTS / "fine_tuning-amd-epyc-2t.json").read_text())["runs"]
    assert sweep_table(runs) in (machine.RESULTS.parent / "README.md").read_text()
    assert transfer.fine_tuning_benchmark() == json.loads(json.dumps(benchmark_summary(runs, "amd-epyc-2t")))
    assert CHOSEN == {"stage": transfer.FINE_TUNING_STAGE, "rate": transfer.FINE_TUNING_RATE,
                      "steps": transfer.FINE_TUNING_STEPS}
    tuned = [r for r in runs if r["key"]["kind"] == "fine-tuned"]
    assert tuned and all({k: r["key"][k] for k in CHOSEN} == CHOSEN for r in tuned)
    notebook = (machine.RESULTS.parent.parent / "notebooks" / "06_transfer_learning.ipynb").read_text()
    assert "first_layer_of_stage(model, 4)" in notebook and "STEPS = 120" in notebook


def test_bench_readme_holds_the_other_photos_runs():
    """bench/README's table of photos from another source is the committed result file's; the runs fine-tuned
    with notebook 06's settings, on notebook 04's models of several training seeds; and that set of photos is
    not in the repository (a file with its SHA-256 is nowhere in it)."""
    import hashlib

    from bench.fine_tuning import CHOSEN, other_photos_table

    measured = json.loads((machine.RESULTS / "other_photos-intel-xeon-2t.json").read_text())
    assert other_photos_table(measured["photos"], measured["runs"]) in (machine.RESULTS.parent / "README.md").read_text()
    assert [r["seed"] for r in measured["runs"]] == [1, 2, 3, 4, 5]
    assert all({k: r["fine-tuned"][k] for k in CHOSEN} == CHOSEN for r in measured["runs"])
    trained = json.loads((machine.RESULTS / "time_to_accuracy-amd-epyc-2t.json").read_text())["runs"]
    assert [r["notebook 04"]["test"]["accuracy"] for r in measured["runs"]] == [r["real_test_accuracy"] for r in trained], \
        "the models fine-tuned are not the ones bench.time_to_accuracy trained (bench/README says they are)"
    repo = machine.RESULTS.parent.parent
    shipped = {hashlib.sha256(p.read_bytes()).hexdigest() for p in repo.glob("datasets/**/*") if p.is_file()}
    assert measured["photos"]["sha256"] not in shipped, "the photos from another source must not be in the repository"
