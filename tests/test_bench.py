"""The benchmarks measure what students run: they read the model and the recipe from the notebooks."""
import json

from bench import machine
from bench.course import apply_recipe, course_resnet50, recipe_cell
from bench.train_speed import fp32_peak_gflops


def test_recipe_is_notebook_04s_cell():
    source = recipe_cell()
    assert "EPOCHS =" in source and "model.compile(" in source


def test_course_resnet50_is_the_graded_solution_with_its_recipe():
    import numpy as np

    model = course_resnet50()(input_shape=(64, 64, 3), classes=6)
    assert model.count_params() == 23_600_006
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
