"""Shared test cast and small builders. The cast: an author who maintains the benchmark, two
participants (alice, bob) and a platform operator (staff, a superuser)."""

from __future__ import annotations

import hashlib
import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase

from benchmarks.models import Benchmark, Split, Task
from submissions.models import Evaluation, Submission

User = get_user_model()

# Label names are public (participants must know the label space); what must never leave the
# server is which hidden row has which label. The names are distinctive so a leak is findable.
SECRET_LABELS = ["zz-label-neg", "zz-label-pos"]


def make_user(username: str, **extra) -> User:
    return User.objects.create_user(username=username, password="pw-" + username, **extra)


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def make_task(benchmark: Benchmark, slug: str, **fields) -> Task:
    """A task with text-classification defaults (one `text` input, `label`, accuracy)."""
    defaults = {
        "type": "text-classification",
        "input_columns": ["text"],
        "label_column": "label",
        "metrics": [{"name": "accuracy"}],
        "primary_metric": "accuracy",
        "position": benchmark.tasks.count(),
    }
    return Task.objects.create(benchmark=benchmark, slug=slug, **{**defaults, **fields})


def make_split(task: Task, name: str, role: str, rows: list[dict], **fields) -> Split:
    table = pa.Table.from_pylist(rows)
    data = parquet_bytes(table)
    split = Split(
        task=task,
        name=name,
        role=role,
        fingerprint=hashlib.sha256(data).hexdigest(),
        num_rows=len(rows),
        position=task.splits.count(),
        **fields,
    )
    split.data.save(f"{name}.parquet", ContentFile(data), save=False)
    split.save()
    return split


def classification_rows(prefix: str, n: int, labels: list[str]) -> list[dict]:
    return [
        {
            "id": f"{prefix}-{i:03d}",
            "text": f"sample text number {i} {'not ' if i % 3 == 0 else ''}bad",
            "label": labels[i % len(labels)],
            "topic": ["food", "service"][i % 2],
        }
        for i in range(n)
    ]


def make_benchmark(
    slug: str = "sentiment",
    *,
    maintainers: tuple = (),
    label_names: list[str] | None = None,
    public_rows: int = 10,
    hidden_rows: int = 10,
    **fields,
) -> Benchmark:
    """A one-task text-classification benchmark with a public `dev` and a hidden `test` split,
    labelled with SECRET_LABELS unless told otherwise."""
    labels = label_names or SECRET_LABELS
    benchmark = Benchmark.objects.create(slug=slug, title=slug.title(), **fields)
    benchmark.maintainers.set(maintainers)
    task = make_task(
        benchmark,
        "sst",
        title="Sentiment",
        label_names=labels,
        metadata_columns=["topic"],
        metrics=[{"name": "accuracy"}, {"name": "f1", "average": "macro"}],
        slices=[{"name": "topic", "column": "topic"}],
    )
    make_split(task, "dev", Split.Role.PUBLIC, classification_rows("dev", public_rows, labels))
    make_split(task, "test", Split.Role.HIDDEN, classification_rows("test", hidden_rows, labels))
    return benchmark


def gold_rows(benchmark: Benchmark, *, scored_only: bool = True) -> list[dict]:
    rows = []
    for split in benchmark.tasks.first().splits.all():
        if scored_only and not split.is_scored:
            continue
        with split.data.open("rb") as f:
            rows += pq.read_table(f).to_pylist()
    return rows


def prediction_csv(rows: list[dict], *, wrong: set[str] = frozenset(), labels=None) -> bytes:
    """A CSV predicting each row's gold label, except the ids in `wrong` (flipped)."""
    labels = labels or SECRET_LABELS
    lines = ["id,prediction"]
    for row in rows:
        label = row["label"]
        if row["id"] in wrong:
            label = labels[(labels.index(label) + 1) % len(labels)]
        lines.append(f"{row['id']},{label}")
    return ("\n".join(lines) + "\n").encode()


def upload(content: bytes, name: str = "predictions.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="application/octet-stream")


def make_scored_submission(
    benchmark: Benchmark,
    participant,
    metrics_by_split: dict[str, dict[str, float | None]],
    **fields,
) -> Submission:
    """A scored submission with evaluations written directly (no worker): for leaderboard and
    page tests that need scores, not scoring."""
    submission = Submission.objects.create(
        benchmark=benchmark,
        participant=participant,
        status=Submission.Status.SCORED,
        progress=1.0,
        original_filename="predictions.csv",
        **fields,
    )
    task = benchmark.tasks.first()
    for split_name, values in metrics_by_split.items():
        split = task.splits.get(name=split_name)
        Evaluation.objects.create(
            submission=submission,
            task=task,
            split=split,
            metrics={k: {"value": v, "ci": None} for k, v in values.items()},
            provenance={"split": {"fingerprint": split.fingerprint}},
        )
    return submission


def hidden_pairs(benchmark: Benchmark) -> list[tuple[str, str]]:
    """(id, label) of every hidden row of the benchmark's first task."""
    pairs = []
    for split in benchmark.tasks.first().splits.filter(role=Split.Role.HIDDEN):
        with split.data.open("rb") as f:
            table = pq.read_table(f)
        pairs += list(
            zip(table.column("id").to_pylist(), table.column("label").to_pylist(), strict=True)
        )
    return pairs


def assert_no_hidden_labels(
    testcase: TestCase, content: bytes | str | dict | list, pairs: list[tuple[str, str]]
) -> None:
    """Fail if a hidden row's label appears near that row's id (a per-row leak: a download, an
    error message, an example list), or if a hidden row's id appears beside a `label` key."""
    if isinstance(content, (dict, list)):
        content = json.dumps(content)
    if isinstance(content, bytes):
        content = content.decode("utf-8", "replace")
    for row_id, label in pairs:
        start = content.find(row_id)
        while start != -1:
            window = content[start : start + len(row_id) + 120]
            testcase.assertNotIn(label, window, f"label of hidden row {row_id} leaked")
            testcase.assertNotIn('"label"', window, f"label field beside hidden row {row_id}")
            start = content.find(row_id, start + 1)


class PlatformTestCase(TestCase):
    """Base for view, API and service tests: the cast and one benchmark they all know."""

    @classmethod
    def setUpTestData(cls):
        cls.author = make_user("author")
        cls.alice = make_user("alice")
        cls.bob = make_user("bob")
        # Platform operators; benchmark authors are staff too (for the admin) but see only
        # what they maintain.
        cls.staff = make_user("staff", is_staff=True, is_superuser=True)
        cls.benchmark = make_benchmark(maintainers=(cls.author,))
        cls.task = cls.benchmark.tasks.get()
        cls.dev = cls.task.splits.get(name="dev")
        cls.test_split = cls.task.splits.get(name="test")

    def assert_errors(self, response, status_code: int) -> list[str]:
        """An API error answer: the status, and a body of `{"errors": [non-empty strings]}`."""
        self.assertEqual(response.status_code, status_code, response.content)
        body = response.json()
        self.assertEqual(list(body), ["errors"])
        self.assertTrue(body["errors"])
        self.assertTrue(all(isinstance(m, str) and m.strip() for m in body["errors"]))
        return body["errors"]
