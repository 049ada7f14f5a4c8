"""Loading and freezing split data (no database): canonical Parquet, file formats, label forms,
and the other task types."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from benchmarks.bundles import BundleError, bundle_load, spec_validate, yaml_parse
from tests.benchmarks.test_bundle_import import (
    DEMO,
    bundle_spec,
    default_files,
    rows,
    task_spec,
    write_bundle,
)


def frozen_rows(data: bytes) -> list[dict]:
    return pq.read_table(io.BytesIO(data)).to_pylist()


def test_freezing_is_deterministic():
    first = bundle_load(DEMO)
    second = bundle_load(DEMO)

    assert [s.parquet for s in first.splits] == [s.parquet for s in second.splits]
    assert [s.fingerprint for s in first.splits] == [s.fingerprint for s in second.splits]


def test_freezing_a_frozen_split_gives_the_same_bytes(tmp_path):
    demo = bundle_load(DEMO)
    files = {f"data/{s.name}.parquet": s.parquet for s in demo.splits}
    spec = yaml_parse((DEMO / "benchmark.yaml").read_text())
    for name, split in spec["tasks"][0]["data"]["splits"].items():
        split["path"] = f"data/{name}.parquet"

    again = bundle_load(write_bundle(tmp_path / "b", spec, files))

    assert [s.fingerprint for s in again.splits] == [s.fingerprint for s in demo.splits]


def test_a_frozen_split_has_exactly_the_bundle_columns_in_order(tmp_path):
    extra = [{"note": "unused", **row, "score": 1.5} for row in rows("dev", 4)]
    bundle = bundle_load(
        write_bundle(tmp_path / "b", files={**default_files(), "data/dev.jsonl": extra})
    )

    table = pq.read_table(io.BytesIO(bundle.frozen("sst", "dev").parquet))
    assert table.column_names == ["id", "text", "label", "topic"]
    assert table.schema.metadata is None or b"pandas" not in table.schema.metadata


def test_it_reads_gzipped_jsonl_csv_and_parquet(tmp_path):
    train = rows("tr", 6)
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows("te", 5)), sink)
    files = {
        "data/train.jsonl.gz": gzip.compress("".join(json.dumps(r) + "\n" for r in train).encode()),
        "data/dev.csv": rows("dev", 4),
        "data/test.parquet.gz": gzip.compress(sink.getvalue()),
    }
    spec = bundle_spec()
    splits = spec["tasks"][0]["data"]["splits"]
    splits["train"]["path"] = "data/train.jsonl.gz"
    splits["dev"]["path"] = "data/dev.csv"
    splits["test"]["path"] = "data/test.parquet.gz"

    bundle = bundle_load(write_bundle(tmp_path / "b", spec, files))

    assert [s.num_rows for s in bundle.splits] == [6, 4, 5]
    assert frozen_rows(bundle.frozen("sst", "train").parquet)[0]["label"] == "negative"


def test_integer_label_names_match_integer_labels_by_name(tmp_path):
    stars = ["1", "2", "3", "4", "5"]
    spec = bundle_spec(
        tasks=[task_spec(columns={"inputs": ["text"], "labels": stars, "metadata": ["topic"]})]
    )
    files = {
        name: [{**row, "label": int(stars[i % 5])} for i, row in enumerate(content)]
        for name, content in default_files().items()
    }

    bundle = bundle_load(write_bundle(tmp_path / "b", spec, files))

    labels = [r["label"] for r in frozen_rows(bundle.frozen("sst", "dev").parquet)]
    assert labels[:5] == stars


def test_other_task_types_freeze_their_labels(tmp_path):
    qa = task_spec(
        slug="qa",
        type="question-answering",
        columns={"inputs": ["question", "context"], "label": "answers"},
        metrics=None,
        slices=[],
    )
    del qa["metrics"]
    qa["data"]["splits"] = {"test": {"path": "data/qa.jsonl", "role": "hidden"}}
    reg = task_spec(slug="reg", type="regression", metrics=["mse", "pearson"], slices=[])
    reg["columns"] = {"inputs": ["text"]}
    reg["data"]["splits"] = {"test": {"path": "data/reg.jsonl", "role": "public"}}
    qa_rows = [
        {
            "id": 1,
            "question": "Who?",
            "context": "Ann did.",
            "answers": {"text": ["Ann"], "answer_start": [0]},
        },
        {
            "id": 2,
            "question": "Why?",
            "context": "No idea.",
            "answers": {"text": [], "answer_start": []},
        },
    ]
    reg_rows = [{"id": "r1", "text": "a", "label": 1}, {"id": "r2", "text": "b", "label": 2.5}]
    spec = bundle_spec(tasks=[qa, reg])

    bundle = bundle_load(
        write_bundle(tmp_path / "b", spec, {"data/qa.jsonl": qa_rows, "data/reg.jsonl": reg_rows})
    )

    assert bundle.spec["tasks"][0]["primary_metric"] == "exact_match"
    assert frozen_rows(bundle.frozen("qa", "test").parquet)[0] == {
        "id": "1",
        "question": "Who?",
        "context": "Ann did.",
        "answers": ["Ann"],
    }
    assert [r["label"] for r in frozen_rows(bundle.frozen("reg", "test").parquet)] == [1.0, 2.5]


def test_token_classification_maps_tag_indices_to_names(tmp_path):
    task = task_spec(
        slug="ner",
        type="token-classification",
        columns={"inputs": ["tokens"], "label": "tags", "labels": ["O", "B-PER", "I-PER"]},
        metrics=["seqeval"],
        slices=[],
    )
    task["data"]["splits"] = {"test": {"path": "data/ner.jsonl", "role": "hidden"}}
    ner = [{"id": "n1", "tokens": ["Ann", "Lee", "ran"], "tags": [1, 2, 0]}]

    bundle = bundle_load(
        write_bundle(tmp_path / "b", bundle_spec(tasks=[task]), {"data/ner.jsonl": ner})
    )

    assert frozen_rows(bundle.frozen("ner", "test").parquet)[0]["tags"] == ["B-PER", "I-PER", "O"]


def test_spec_validate_normalises_without_a_bundle_folder():
    spec = spec_validate(bundle_spec(submission_policy={"opens_at": "2026-01-01T00:00:00Z"}))

    assert spec["visibility"] == "public"
    assert spec["submission_policy"]["kinds"] == ["predictions"]
    assert spec["submission_policy"]["opens_at"].isoformat() == "2026-01-01T00:00:00+00:00"
    assert spec["tasks"][0]["data"]["splits"][2] == {
        "name": "test",
        "path": "data/test.jsonl",
        "hub_split": None,
        "role": "hidden",
        "reveal": "always",
        "inputs_downloadable": True,
        "provenance": None,
    }


def test_a_slice_measure_must_fit_its_column(tmp_path):
    slices = [{"name": "topic-length", "column": "topic", "measure": "value", "bins": [0, 1]}]
    spec = bundle_spec(tasks=[task_spec(slices=slices)])

    with pytest.raises(BundleError) as caught:
        bundle_load(write_bundle(tmp_path / "b", spec))

    assert "slice 'topic-length' needs numbers in column 'topic', got string" in str(caught.value)


def test_the_demo_bundle_is_small_and_balanced_enough_to_learn():
    bundle = bundle_load(Path(DEMO))
    counts = {s.name: s.num_rows for s in bundle.splits}
    assert counts == {"train": 600, "dev": 300, "test": 600}
    labels = [r["label"] for r in frozen_rows(bundle.frozen("sst", "train").parquet)]
    assert 0.3 < labels.count("positive") / len(labels) < 0.7
