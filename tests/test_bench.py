"""The benchmarks measure what students run: they read the model and the recipe from the notebooks."""
import json

from bench import machine
from bench.course import apply_recipe, course_resnet50, recipe_cell
from bench.train_speed import fp32_peak_gflops


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
    assert ns["EPOCHS"] >= 1 and ns["BATCH_SIZE"] == 32 and model.optimizer is not None
    assert model.optimizer.built, "the recipe creates Adam's variables before fit (one trace, not two)"


def test_machine_description_and_results_path(tmp_path, monkeypatch):
    monkeypatch.setattr(machine, "RESULTS", tmp_path)
    info = machine.describe_machine()
    assert info["threads"] >= 1 and info["tensorflow"]
    path = machine.results_path("x")
    assert path.parent == tmp_path and path.name.startswith("x-") and path.suffix == ".json"
    json.dumps(info)
    peak = fp32_peak_gflops(info)
    assert peak is None or peak > 0


def test_only_plain_keras_applications_trains_without_the_fused_kernel():
    from bench.train_speed import uses_fused_batchnorm

    assert not uses_fused_batchnorm("keras.applications")
    assert all(uses_fused_batchnorm(k) for k in ("course", "keras.applications+fused-bn", "course-xla", "course-bf16"))


def test_summary_reads_the_four_measurements_from_the_results():
    from bench.__main__ import SCRIPTS, summary

    # The committed results of the README's machine (this one's may not exist yet).
    results = {script: json.loads((machine.RESULTS / f"{script}-intel-xeon-2t.json").read_text()) for script in SCRIPTS}
    results["train_speed"]["rows"][0]["images_per_second"] = 2 * results["train_speed"]["rows"][1]["images_per_second"]
    results["time_to_accuracy"]["runs"][0].update(first_reached={"epoch": 3, "seconds": 61.0, "test_accuracy": 0.96})
    text = summary(**results)
    assert "2.00x keras.applications" in text
    assert "61 s (epoch 3 of" in text
    assert f"{results['course_time']['total_seconds']:.0f} s (" in text
    results["time_to_accuracy"]["runs"][0]["first_reached"] = None
    assert "not reached in" in summary(**results)


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
