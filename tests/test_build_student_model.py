"""scripts/build_student_model.py: a student with fewer layers, distilled from the default model,
is its own model id (its vectors never mix with the teacher's) and is built once."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from matching.matcher import embedding

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "build_student_model.py"


@pytest.fixture
def builder(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("build_student_model", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "CACHE_DIR", tmp_path / "cache")
    return module


def test_keep_layers_is_evenly_spaced_with_first_and_last():
    spec = importlib.util.spec_from_file_location("build_student_model", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.keep_layers(12, 8) == [0, 2, 3, 5, 6, 8, 9, 11]
    assert module.keep_layers(12, 6) == [0, 2, 4, 7, 9, 11]
    assert module.keep_layers(12, 12) == list(range(12))
    with pytest.raises(ValueError):
        module.keep_layers(12, 13)


def test_training_texts_hold_out_the_paraphrase_set(builder):
    pairs = builder.training_texts()
    texts = {text for _kind, text in pairs}
    paraphrase = Path(__file__).resolve().parent.parent / "research" / "paraphrase_dev"
    for line in (paraphrase / "demands.jsonl").read_text(encoding="utf-8").splitlines():
        demand = json.loads(line)
        assert builder._demand_text(demand["title"], demand.get("description") or "") not in texts
    assert {kind for kind, _text in pairs} == {"query", "document"}
    assert pairs == builder.training_texts()  # deterministic


def test_two_layer_student_is_tagged_apart_and_built_once(builder, tmp_path, capsys):
    teacher = Path(embedding.resolve_model_name())
    target = tmp_path / "e5s-L2"
    args = [str(teacher), str(target), "--layers", "2", "--max-tokens", "64"]
    args += ["--limit-texts", "20", "--steps", "1"]
    assert builder.main(args) == 0

    info = json.loads((target / "BUILD_INFO.json").read_text())
    assert info["model"] == "multilingual-e5-small-L2"
    assert info["kept_layers"] == [0, 11]
    assert info["max_seq_length"] == 64
    assert info["steps"] == 1 and info["train_texts"] == 20
    assert "L2" in info["build_version"] and "len64" in info["build_version"]
    config = json.loads((target / "config.json").read_text())
    assert config["num_hidden_layers"] == 2

    student_id = embedding.model_id(str(target), max_tokens=embedding.MODEL_LENGTH)
    teacher_id = embedding.model_id(str(teacher), max_tokens=embedding.MODEL_LENGTH)
    assert student_id != teacher_id
    assert student_id.startswith("multilingual-e5-small-L2:e5s-L2-len64-")
    vectors = embedding.encode(["锂电池隔膜涂覆"], model_name=str(target), kind="document")
    assert vectors.shape == (1, 384)
    assert np.isclose(np.linalg.norm(vectors[0]), 1.0, atol=1e-5)

    built_at = info["built_at"]
    capsys.readouterr()
    assert builder.main(args) == 0  # same recipe and teacher: left alone
    assert "already built" in capsys.readouterr().out
    assert json.loads((target / "BUILD_INFO.json").read_text())["built_at"] == built_at
    embedding.clear_cache()
