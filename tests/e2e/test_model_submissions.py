"""Model submissions end to end, on CPU, through real worker processes on both queues: a `gpu`
worker runs each tiny model in the bubblewrap sandbox, a `scoring` worker scores what it wrote.
Every task type the runner supports, reached through the huggingface_hub code path (a Hub cache
filled by the test, offline, a branch name resolved to its commit) and as an uploaded archive."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch
from django.conf import settings
from django.core.files.storage import default_storage
from django.test import TransactionTestCase, override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from benchmarks.models import Benchmark
from benchmarks.services import benchmark_import
from scoring import sandbox
from submissions.model_runs import model_inputs_name
from submissions.models import Submission
from tests import tiny_models
from tests.base import make_user
from tests.e2e.embedded import wait_until_final
from tests.hub_cache import hub_cache_add

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not sandbox.available(), reason="bubblewrap is not usable here"),
]

DEMO = Path(settings.BASE_DIR) / "demo"

# Task type: (demo bundle, builder of a model for that bundle's task).
CASES = {
    "text-classification": (
        "sentiment-mini",
        lambda folder, task: tiny_models.build_text_classifier(folder, task.label_names),
    ),
    "token-classification": (
        "ner-mini",
        lambda folder, task: tiny_models.build_token_classifier(folder, task.label_names),
    ),
    "question-answering": (
        "qa-mini",
        lambda folder, task: tiny_models.build_question_answerer(folder),
    ),
    "text-generation": (
        "summaries-mini",
        lambda folder, task: tiny_models.build_seq2seq_generator(folder),
    ),
    "regression": ("regression-mini", lambda folder, task: tiny_models.build_regressor(folder)),
    "image-classification": (
        "images-mini",
        lambda folder, task: tiny_models.build_image_classifier(folder, task.label_names),
    ),
}


def zipped_folder(folder: Path, top: str = "model") -> bytes:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, f"{top}/{path.relative_to(folder)}")
    return sink.getvalue()


def run_predictions(submission: Submission, task_slug: str):
    """The predictions the model run stored for one task (what the scorer scored)."""
    with default_storage.open(submission.run_output.name) as f, zipfile.ZipFile(f) as archive:
        return pq.read_table(io.BytesIO(archive.read(f"{task_slug}.parquet")))


@pytest.mark.usefixtures("model_workers")
class ModelSubmissionEndToEndTests(TransactionTestCase):
    @pytest.fixture(autouse=True)
    def _workers(self, model_workers, tmp_path):
        self.hub_cache = model_workers["hub_cache"]
        self.logs = model_workers["logs"]
        self.tmp = tmp_path

    def setUp(self):
        self.alice = make_user("alice")
        self.client = APIClient()
        self.client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=self.alice)}")

    def benchmark(self, bundle: str) -> Benchmark:
        benchmark = benchmark_import(source=DEMO / bundle)
        Benchmark.objects.filter(pk=benchmark.pk).update(
            accepted_kinds=["predictions", "model"], max_per_day=None, max_total=None
        )
        benchmark.refresh_from_db()
        return benchmark

    def post(self, benchmark: Benchmark, data, **kwargs) -> int:
        response = self.client.post(
            f"/api/v1/benchmarks/{benchmark.slug}/submissions/", data, **kwargs
        )
        self.assertEqual(response.status_code, 201, response.content)
        return response.json()["id"]

    def wait(self, pk: int, timeout: float = 240) -> Submission:
        return wait_until_final(pk, timeout, self.logs)

    def assert_scored(self, submission: Submission, benchmark: Benchmark) -> None:
        self.assertEqual(submission.status, "scored", submission.error)
        self.assertEqual(submission.stage, "score")
        task = benchmark.tasks.get()
        inputs = pq.read_table(default_storage.open(model_inputs_name(task)))
        # The run saw ids and inputs only: no label, no metadata column.
        self.assertEqual(inputs.column_names, [task.id_column, *task.input_columns])
        self.assertEqual((submission.rows_done, submission.rows_total), (inputs.num_rows,) * 2)
        self.assertEqual(set(submission.stage_seconds), {"queued", "fetch", "run", "score"})
        evaluations = list(submission.evaluations.all())
        self.assertEqual(len(evaluations), len(task.scored_splits))
        for evaluation in evaluations:
            self.assertIn(task.primary_metric, evaluation.metrics)
            self.assertGreater(evaluation.efficiency["rows_per_second"], 0)
            self.assertGreater(evaluation.efficiency["parameters"], 0)
            self.assertEqual(evaluation.efficiency["device"], "cpu")
            self.assertEqual(evaluation.provenance["model"]["sha"], submission.model_sha)
        predictions = run_predictions(submission, task.slug)
        self.assertEqual(predictions.column("id").to_pylist(), inputs.column("id").to_pylist())

    def test_every_task_type_from_the_hub_cache_and_as_an_archive(self):
        submitted = []
        for task_type, (bundle, build) in CASES.items():
            benchmark = self.benchmark(bundle)
            task = benchmark.tasks.get()
            self.assertEqual(task.type, task_type)
            folder = build(self.tmp / task_type, task)
            repo_id = f"tiny/{task_type}"
            with override_settings(MODEL_HUB_CACHE=str(self.hub_cache)):
                commit = hub_cache_add(self.hub_cache, repo_id, folder)
                hub = self.post(
                    benchmark,
                    {"model": {"repo_id": repo_id, "revision": "main"}, "name": task_type},
                    format="json",
                )
            archive = io.BytesIO(zipped_folder(folder))
            archive.name = f"{task_type}.zip"
            uploaded = self.post(benchmark, {"model_archive": archive, "name": "archive"})
            submitted.append((benchmark, commit, hub, uploaded))
        for benchmark, commit, hub, uploaded in submitted:
            with self.subTest(benchmark.slug, source="hub"):
                submission = self.wait(hub)
                self.assertEqual(submission.model_sha, commit)  # "main" resolved at submission
                self.assert_scored(submission, benchmark)
            with self.subTest(benchmark.slug, source="archive"):
                submission = self.wait(uploaded)
                self.assertTrue(submission.model_sha.startswith("sha256:"))
                self.assert_scored(submission, benchmark)
                # The same model either way: the same predictions.
                slug = benchmark.tasks.get().slug
                self.assertEqual(
                    run_predictions(submission, slug),
                    run_predictions(Submission.objects.get(pk=hub), slug),
                )

    def test_the_predictions_are_what_the_model_gives_when_run_directly(self):
        benchmark = self.benchmark("sentiment-mini")
        task = benchmark.tasks.get()
        folder = tiny_models.build_text_classifier(self.tmp / "cls", task.label_names)
        archive = io.BytesIO(zipped_folder(folder))
        archive.name = "cls.zip"
        submission = self.wait(self.post(benchmark, {"model_archive": archive}))
        self.assert_scored(submission, benchmark)
        inputs = pq.read_table(default_storage.open(model_inputs_name(task))).to_pylist()
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
        expected = []
        with torch.inference_mode():
            for row in inputs:
                encoded = tokenizer(row["text"], truncation=True, return_tensors="pt")
                logits = model(**encoded).logits
                expected.append(model.config.id2label[int(logits.argmax(-1))])
        got = run_predictions(submission, task.slug).column("prediction").to_pylist()
        self.assertEqual(got, expected)
        # Its speed and size are on the board, in the API and on the page.
        board = self.client.get(f"/api/v1/benchmarks/{benchmark.slug}/leaderboard/").json()
        row = next(r for r in board["rows"] if r["submission"] == submission.pk)
        self.assertGreater(row["efficiency"]["rows_per_second"], 0)
        self.client.force_login(self.alice)
        page = self.client.get(f"/b/{benchmark.slug}/leaderboard/").content.decode()
        self.assertIn("Rows/s", page)
        self.assertIn("Latency p95", page)
