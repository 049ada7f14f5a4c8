"""The model runner (`python -m scoring.runner JOB_DIR MODEL_DIR`, docs/sandbox.md) on tiny real
models of every task type, run as a subprocess without the sandbox: its predictions equal the
same model run here row by row with the same tokenisation (so batching, padding and the length
sort change nothing and the original order comes back), and its run.json, progress.json, custom
code (`predict.py`), refusals and errors are as the contract says."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.tiny_models import (
    build_causal_generator,
    build_image_classifier,
    build_question_answerer,
    build_regressor,
    build_seq2seq_generator,
    build_text_classifier,
    build_token_classifier,
    png_bytes,
    sample_texts,
    sample_words,
    write_predict_py,
)

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

ROOT = Path(__file__).resolve().parents[2]
LABELS = ["neg", "pos", "mixed"]
RUN_FIELDS = {
    "load_seconds",
    "rows",
    "rows_per_second",
    "latency_ms_p50",
    "latency_ms_p95",
    "peak_rss_mb",
    "peak_gpu_mb",
    "parameters",
    "device",
    "dtype",
    "batch_size",
    "torch",
    "transformers",
}


def make_job(folder: Path, task_type: str, columns: dict, labels=(), **options) -> Path:
    """A job folder: job.json and inputs.parquet (ids r0, r1, …)."""
    folder.mkdir(parents=True)
    rows = len(next(iter(columns.values())))
    table = pa.table({"id": [f"r{i}" for i in range(rows)], **columns})
    pq.write_table(table, folder / "inputs.parquet")
    job = {
        "task_type": task_type,
        "id_column": "id",
        "input_columns": list(columns),
        "labels": list(labels),
        "batch_size": 4,
        "max_new_tokens": 6,
        "allow_custom_code": False,
        "device": "cpu",
        **options,
    }
    (folder / "job.json").write_text(json.dumps(job))
    return folder


def run_runner(job: Path, model: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "scoring.runner", str(job), str(model)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def predictions(job: Path) -> list:
    table = pq.read_table(job / "predictions.parquet")
    assert table.column_names == ["id", "prediction"]
    assert table.column("id").to_pylist() == [f"r{i}" for i in range(table.num_rows)]
    return table.column("prediction").to_pylist()


def run_ok(job: Path, model: Path) -> list:
    result = run_runner(job, model)
    assert result.returncode == 0, result.stderr
    return predictions(job)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    return {
        "classifier": build_text_classifier(folder / "classifier", LABELS, seed=1),
        "regressor": build_regressor(folder / "regressor"),
        "tagger": build_token_classifier(folder / "tagger"),
        "qa": build_question_answerer(folder / "qa"),
        "t5": build_seq2seq_generator(folder / "t5"),
        "gpt2": build_causal_generator(folder / "gpt2"),
        "vit": build_image_classifier(folder / "vit"),
    }


def load(auto_class, folder):
    return auto_class.from_pretrained(folder).eval()


# -- built-in loaders, one task type each


def test_text_classification_matches_the_model_row_by_row_in_the_original_order(models, tmp_path):
    texts = sample_texts(23, seed=3, lo=1, hi=30)  # lengths vary: the sort reorders them
    job = make_job(tmp_path / "job", "text-classification", {"text": texts}, LABELS)
    got = run_ok(job, models["classifier"])

    tokenizer = transformers.AutoTokenizer.from_pretrained(models["classifier"])
    model = load(transformers.AutoModelForSequenceClassification, models["classifier"])
    with torch.inference_mode():
        expected = [
            model.config.id2label[
                int(model(**tokenizer(text, return_tensors="pt")).logits[0].argmax())
            ]
            for text in texts
        ]
    assert got == expected
    assert len(set(got)) > 1  # the model is not constant: the order check means something

    run = json.loads((job / "run.json").read_text())
    assert set(run) >= RUN_FIELDS
    assert run["rows"] == 23 and run["batch_size"] == 4
    assert run["parameters"] == sum(p.numel() for p in model.parameters())
    assert run["device"] == "cpu" and run["dtype"] == "float32" and run["peak_gpu_mb"] is None
    assert run["torch"] == torch.__version__ and run["transformers"] == transformers.__version__
    assert run["warmup_rows"] == 4  # the first batch, kept in the predictions, not timed
    assert 0 < run["latency_ms_p50"] <= run["latency_ms_p95"]
    assert run["rows_per_second"] > 0 and run["load_seconds"] > 0 and run["peak_rss_mb"] > 50
    progress = json.loads((job / "progress.json").read_text())
    assert progress == {"rows_done": 23, "rows_total": 23}


def test_class_indices_when_the_model_labels_are_not_the_benchmarks(models, tmp_path):
    texts = sample_texts(9, seed=4)
    job = make_job(tmp_path / "job", "text-classification", {"text": texts}, ["a", "b", "c"])
    got = run_ok(job, models["classifier"])
    names = {name: i for i, name in enumerate(LABELS)}
    by_name = run_ok(
        make_job(tmp_path / "named", "text-classification", {"text": texts}, LABELS),
        models["classifier"],
    )
    assert got == [names[name] for name in by_name]
    assert pq.read_schema(job / "predictions.parquet").field("prediction").type == pa.int64()


def test_regression_gives_the_single_output(models, tmp_path):
    texts = sample_texts(10, seed=5, hi=20)
    job = make_job(tmp_path / "job", "regression", {"text": texts})
    got = run_ok(job, models["regressor"])
    tokenizer = transformers.AutoTokenizer.from_pretrained(models["regressor"])
    model = load(transformers.AutoModelForSequenceClassification, models["regressor"])
    with torch.inference_mode():
        expected = [float(model(**tokenizer(t, return_tensors="pt")).logits[0, 0]) for t in texts]
    assert got == pytest.approx(expected, rel=1e-4, abs=1e-5)


def test_token_classification_tags_each_word_by_its_first_sub_token(models, tmp_path):
    words = sample_words(11, seed=6, hi=15)
    words[2] = ["paris", "xyzzyplugh", "is", "big"]  # a word of several sub-tokens
    words[5] = []
    job = make_job(tmp_path / "job", "token-classification", {"tokens": words})
    got = run_ok(job, models["tagger"])

    tokenizer = transformers.AutoTokenizer.from_pretrained(models["tagger"])
    model = load(transformers.AutoModelForTokenClassification, models["tagger"])
    expected = []
    with torch.inference_mode():
        for row in words:
            if not row:
                expected.append([])
                continue
            encoding = tokenizer(row, is_split_into_words=True, return_tensors="pt")
            tags = model(**encoding).logits[0].argmax(-1).tolist()
            first = {}
            for position, word in enumerate(encoding.word_ids(0)):
                if word is not None:
                    first.setdefault(word, model.config.id2label[tags[position]])
            expected.append([first[i] for i in range(len(row))])
    assert got == expected
    assert [len(tags) for tags in got] == [len(row) for row in words]


def reference_answer(tokenizer, model, question: str, context: str) -> str:
    """The best span of at most 30 tokens inside the context against the null score, by
    brute force over one unpadded window."""
    encoding = tokenizer(question, context, return_offsets_mapping=True, return_tensors="pt")
    offsets = encoding.pop("offset_mapping")[0].tolist()
    output = model(**encoding)
    start, end = output.start_logits[0].tolist(), output.end_logits[0].tolist()
    inside = [i for i, s in enumerate(encoding.sequence_ids(0)) if s == 1]
    best = None
    for i in inside:
        for j in inside:
            if i <= j < i + 30 and (best is None or start[i] + end[j] > best[0]):
                best = (start[i] + end[j], offsets[i][0], offsets[j][1])
    if best is None or best[0] <= start[0] + end[0]:
        return ""
    return context[best[1] : best[2]]


def test_question_answering_finds_the_best_span_or_no_answer(models, tmp_path):
    questions = sample_texts(12, seed=7, hi=5)
    contexts = sample_texts(12, seed=8, lo=3, hi=40)
    contexts[3] = " ".join(sample_texts(6, seed=9, lo=20, hi=20))  # 120 words: several windows
    job = make_job(
        tmp_path / "job", "question-answering", {"question": questions, "context": contexts}
    )
    got = run_ok(job, models["qa"])

    tokenizer = transformers.AutoTokenizer.from_pretrained(models["qa"])
    model = load(transformers.AutoModelForQuestionAnswering, models["qa"])
    with torch.inference_mode():
        for i, (question, context) in enumerate(zip(questions, contexts, strict=True)):
            if i == 3:
                assert got[i] == "" or got[i] in context
            else:
                assert got[i] == reference_answer(tokenizer, model, question, context), i
    assert any(got)  # the model answers some questions (and the comparison means something)


@pytest.mark.parametrize("kind", ["t5", "gpt2"])
def test_text_generation_is_greedy_with_the_prompt_stripped(models, tmp_path, kind):
    texts = sample_texts(7, seed=10, hi=10)
    job = make_job(tmp_path / "job", "text-generation", {"source": texts})
    got = run_ok(job, models[kind])

    tokenizer = transformers.AutoTokenizer.from_pretrained(models[kind])
    auto = {"t5": transformers.AutoModelForSeq2SeqLM, "gpt2": transformers.AutoModelForCausalLM}
    model = load(auto[kind], models[kind])
    expected = []
    with torch.inference_mode():
        for text in texts:
            encoding = tokenizer(text, return_tensors="pt")
            encoding.pop("token_type_ids", None)
            output = model.generate(
                **encoding, max_new_tokens=6, do_sample=False, pad_token_id=tokenizer.pad_token_id
            )[0]
            if kind == "gpt2":
                output = output[encoding["input_ids"].shape[1] :]
            expected.append(tokenizer.decode(output, skip_special_tokens=True).strip())
    assert got == expected
    assert all(got)
    if kind == "gpt2":
        assert not any(g.startswith(t) for g, t in zip(got, texts, strict=True))


def test_image_classification_from_image_bytes(models, tmp_path):
    images = [png_bytes(i, size=(20 + i, 30)) for i in range(9)]
    labels = ["cat", "dog", "bird"]
    job = make_job(tmp_path / "job", "image-classification", {"image": images}, labels)
    got = run_ok(job, models["vit"])

    from PIL import Image

    processor = transformers.AutoImageProcessor.from_pretrained(models["vit"])
    model = load(transformers.AutoModelForImageClassification, models["vit"])
    with torch.inference_mode():
        expected = []
        for data in images:
            pixels = processor(
                images=[Image.open(io.BytesIO(data)).convert("RGB")], return_tensors="pt"
            )
            expected.append(model.config.id2label[int(model(**pixels).logits[0].argmax())])
    assert got == expected


# -- custom code


def test_predict_py_is_called_in_chunks_with_ids_and_inputs_in_order(tmp_path):
    model = tmp_path / "custom"
    write_predict_py(
        model,
        """
        import json
        from pathlib import Path

        def predict(rows, model_dir):
            progress = json.loads(Path("progress.json").read_text())
            return [
                f"{row['id']}:{row['source'].upper()}:{progress['rows_done']}:{Path(model_dir).name}"
                for row in rows
            ]
        """,
    )
    texts = sample_texts(7, seed=11)
    job = make_job(
        tmp_path / "job", "text-generation", {"source": texts}, batch_size=3, allow_custom_code=True
    )
    result = subprocess.run(
        [sys.executable, "-m", "scoring.runner", str(job), str(model)],
        cwd=job,  # predict.py reads progress.json from the working folder
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    # progress.json is rewritten after every chunk: the chunks saw 0, 3 and 6 rows done
    assert predictions(job) == [
        f"r{i}:{text.upper()}:{3 * (i // 3)}:custom" for i, text in enumerate(texts)
    ]
    run = json.loads((job / "run.json").read_text())
    assert run["custom_code"] is True and run["parameters"] is None and run["rows"] == 7
    assert set(run) >= RUN_FIELDS


def test_predict_py_is_refused_when_the_job_allows_no_custom_code(models, tmp_path):
    model = tmp_path / "custom"
    write_predict_py(model, "raise SystemExit('predict.py must not be imported')\n")
    job = make_job(tmp_path / "job", "text-generation", {"source": ["a b c"]})
    result = run_runner(job, model)
    assert result.returncode == 4
    assert result.stderr.strip().splitlines()[-1] == (
        "error: the model folder holds predict.py, but this benchmark does not allow custom "
        "code: remove it to use the built-in loaders"
    )
    assert not (job / "predictions.parquet").exists()


def test_a_wrong_number_of_predictions_fails_clearly(tmp_path):
    model = tmp_path / "custom"
    write_predict_py(model, "def predict(rows, model_dir):\n    return ['x'] * (len(rows) - 1)\n")
    job = make_job(
        tmp_path / "job",
        "text-generation",
        {"source": sample_texts(10)},
        batch_size=32,
        allow_custom_code=True,
    )
    result = run_runner(job, model)
    assert result.returncode == 5
    assert result.stderr.strip().splitlines()[-1] == (
        "error: The model returned 9 predictions for 10 rows"
    )
    assert not (job / "predictions.parquet").exists()


def test_predictions_of_the_wrong_kind_name_the_row(tmp_path):
    model = tmp_path / "custom"
    write_predict_py(
        model, "def predict(rows, model_dir):\n    return [{'label': 1} for _ in rows]\n"
    )
    job = make_job(
        tmp_path / "job",
        "text-classification",
        {"text": ["a", "b"]},
        ["x", "y"],
        allow_custom_code=True,
    )
    result = run_runner(job, model)
    assert result.returncode == 5
    assert (
        "error: the prediction for id 'r0' is a dict; a text-classification prediction is a "
        "label name or a class index" in result.stderr
    )


def test_a_regression_job_refuses_a_model_with_several_outputs(models, tmp_path):
    job = make_job(tmp_path / "job", "regression", {"text": ["good film"]})
    result = run_runner(job, models["classifier"])
    assert result.returncode == 4
    assert "error: the model has 3 outputs; a regression model has one" in result.stderr


def test_an_invalid_job_is_the_platforms_error(tmp_path, models):
    job = make_job(tmp_path / "job", "text-classification", {"text": ["a"]})
    (job / "job.json").write_text(json.dumps({"task_type": "summarisation"}))
    result = run_runner(job, models["classifier"])
    assert result.returncode == 2
    assert "error: job.json: unknown task_type 'summarisation'" in result.stderr
