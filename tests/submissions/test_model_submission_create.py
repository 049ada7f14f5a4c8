"""Accepting a model submission (services.submission_create_model, the API and the form): the
Hub revision resolved to its commit from a Hub cache built by the test (offline), an archive
unpacked and checked at once, the inputs-only file each run reads, the job on the `gpu` queue
with the task's limits, and every refusal as a clear message. The run itself is in
tests/e2e/test_model_submissions.py."""

from __future__ import annotations

import io
import zipfile
from unittest import mock

import pyarrow.parquet as pq
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from benchmarks.models import Benchmark
from scoring import sandbox
from submissions import pipeline
from submissions.model_runs import model_inputs_name
from submissions.models import Submission
from tests import tiny_models
from tests.base import SECRET_LABELS, PlatformTestCase, upload
from tests.hub_cache import hub_cache_add

URL = "/api/v1/benchmarks/sentiment/submissions/"


class ModelSubmissionCreateTests(PlatformTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        Benchmark.objects.filter(pk=cls.benchmark.pk).update(
            accepted_kinds=["predictions", "model"]
        )
        cls.task.model_run = {"timeout_s": 120, "batch_size": 8}
        cls.task.save()

    def setUp(self):
        import tempfile
        from pathlib import Path

        self.tmp = Path(tempfile.mkdtemp())
        self.hub = self.tmp / "hub"
        self.model = tiny_models.build_text_classifier(self.tmp / "model", SECRET_LABELS)
        self.commit = hub_cache_add(self.hub, "acme/tiny", self.model, refs=("main", "v1"))
        self.settings_override = override_settings(MODEL_HUB_CACHE=str(self.hub))
        self.settings_override.enable()
        self.addCleanup(self.settings_override.disable)
        self.client.force_login(self.alice)

    def archive(self, files: dict | None = None, name: str = "model.zip"):
        sink = io.BytesIO()
        with zipfile.ZipFile(sink, "w") as archive:
            for path in self.model.iterdir():
                archive.write(path, f"tiny/{path.name}")
            for member, content in (files or {}).items():
                archive.writestr(f"tiny/{member}", content)
        return upload(sink.getvalue(), name)

    def post_hub(self, **model):
        return self.client.post(URL, {"model": model}, content_type="application/json")

    def test_a_hub_branch_is_resolved_to_its_commit_and_queued_for_a_run(self):
        with self.captureOnCommitCallbacks(execute=False):
            response = self.post_hub(repo_id="acme/tiny", revision="v1")
        self.assertEqual(response.status_code, 201, response.content)
        submission = Submission.objects.get(pk=response.json()["id"])
        self.assertEqual(
            (submission.kind, submission.stage, submission.status),
            ("model", "run", "queued"),
        )
        self.assertEqual(
            (submission.model_repo_id, submission.model_revision, submission.model_sha),
            ("acme/tiny", "v1", self.commit),
        )
        detail = self.client.get(f"/api/v1/submissions/{submission.pk}/").json()
        self.assertEqual(
            detail["model"],
            {"repo_id": "acme/tiny", "revision": "v1", "sha": self.commit, "archive": ""},
        )
        self.assertEqual(detail["stage"], "run")

    def test_the_run_reads_an_inputs_file_without_labels_or_metadata(self):
        self.assertEqual(self.post_hub(repo_id="acme/tiny").status_code, 201)
        table = pq.read_table(default_storage.open(model_inputs_name(self.task)))
        self.assertEqual(table.column_names, ["id", "text"])
        self.assertEqual(table.num_rows, sum(s.num_rows for s in self.task.scored_splits))
        content = default_storage.open(model_inputs_name(self.task)).read()
        for label in SECRET_LABELS:
            self.assertNotIn(label.encode(), content)

    def test_the_job_goes_to_the_gpu_queue_with_the_tasks_time_limit(self):
        self.assertEqual(self.post_hub(repo_id="acme/tiny").status_code, 201)
        submission = Submission.objects.get()
        options = pipeline.job_options(submission)
        with self.settings(MODEL_FETCH_TIME_LIMIT_SECONDS=300):
            options = pipeline.job_options(submission)
        self.assertEqual(
            (options.queue, options.soft_time_limit, options.time_limit), ("gpu", 420, 480)
        )
        submission.stage = Submission.Stage.SCORE
        self.assertEqual(pipeline.job_options(submission).queue, "scoring")

    def test_an_archive_is_checked_at_once_and_recorded_by_its_digest(self):
        response = self.client.post(URL, {"model_archive": self.archive(), "name": "tiny"})
        self.assertEqual(response.status_code, 201, response.content)
        submission = Submission.objects.get()
        self.assertTrue(submission.model_sha.startswith("sha256:"))
        self.assertEqual(len(submission.model_sha), len("sha256:") + 64)
        self.assertEqual(submission.original_filename, "model.zip")

    def test_pickle_weights_and_custom_code_are_refused_unless_allowed(self):
        cases = {
            "pytorch_model.bin": ("pytorch_model.bin", b"pickle"),
            "predict.py": ("predict.py", b"def predict(rows, model_dir): ..."),
        }
        for label, (member, content) in cases.items():
            with self.subTest(label):
                response = self.client.post(URL, {"model_archive": self.archive({member: content})})
                errors = self.assert_errors(response, 400)
                self.assertTrue(any(member in e for e in errors), errors)
        self.assertFalse(Submission.objects.exists())
        Benchmark.objects.filter(pk=self.benchmark.pk).update(allow_custom_code=True)
        response = self.client.post(
            URL, {"model_archive": self.archive({"predict.py": b"def predict(r, m): ..."})}
        )
        self.assertEqual(response.status_code, 201, response.content)

    def test_unknown_repos_and_revisions_are_400s_naming_them(self):
        errors = self.assert_errors(self.post_hub(repo_id="acme/nothing"), 400)
        self.assertIn("acme/nothing", errors[0])
        errors = self.assert_errors(self.post_hub(repo_id="acme/tiny", revision="v9"), 400)
        self.assertIn("v9", errors[0])

    def test_a_model_and_an_archive_together_or_neither_is_a_400(self):
        response = self.client.post(
            URL, {"model_archive": self.archive(), "kind": "model", "model": "acme/tiny"}
        )
        self.assert_errors(response, 400)
        errors = self.assert_errors(
            self.client.post(URL, {"kind": "model"}, content_type="application/json"), 400
        )
        self.assertIn("Hub model", errors[0])

    def test_without_bubblewrap_model_submissions_are_refused_naming_the_unsafe_setting(self):
        # The outside world: a machine where bubblewrap is not installed.
        with mock.patch.object(sandbox, "available", return_value=False):
            errors = self.assert_errors(self.post_hub(repo_id="acme/tiny"), 503)
            self.assertIn("MODEL_RUNS_WITHOUT_SANDBOX_UNSAFE", errors[0])
            with self.settings(MODEL_RUNS_WITHOUT_SANDBOX_UNSAFE=True):
                self.assertEqual(self.post_hub(repo_id="acme/tiny").status_code, 201)

    def test_a_benchmark_that_takes_no_models_refuses_them(self):
        Benchmark.objects.filter(pk=self.benchmark.pk).update(accepted_kinds=["predictions"])
        errors = self.assert_errors(self.post_hub(repo_id="acme/tiny"), 403)
        self.assertIn("does not accept model submissions", errors[0])

    def test_the_page_takes_a_model_archive_and_shows_the_stage(self):
        page = self.client.get("/b/sentiment/submit/")
        self.assertContains(page, "Submit the model")
        response = self.client.post(
            "/b/sentiment/submit/", {"kind": "model", "model_archive": self.archive()}
        )
        submission = Submission.objects.get()
        self.assertRedirects(response, f"/submissions/{submission.pk}/")
        detail = self.client.get(f"/submissions/{submission.pk}/")
        self.assertContains(detail, "1. run the model")
        self.assertContains(detail, "model.zip")

    def test_the_page_says_what_is_wrong_with_a_model(self):
        response = self.client.post(
            "/b/sentiment/submit/", {"kind": "model", "repo_id": "acme/nothing"}
        )
        self.assertContains(response, "acme/nothing", status_code=400)
        response = self.client.post("/b/sentiment/submit/", {"kind": "model"})
        self.assertContains(
            response, "Name a Hub repository or attach a model archive.", status_code=400
        )


class EvaluateModelCommandTests(PlatformTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        Benchmark.objects.filter(pk=cls.benchmark.pk).update(
            accepted_kinds=["model"], max_per_day=1
        )

    def setUp(self):
        import tempfile
        from pathlib import Path

        tmp = Path(tempfile.mkdtemp())
        model = tiny_models.build_text_classifier(tmp / "model", SECRET_LABELS)
        self.commit = hub_cache_add(tmp / "hub", "acme/tiny", model)
        override = override_settings(MODEL_HUB_CACHE=str(tmp / "hub"))
        override.enable()
        self.addCleanup(override.disable)

    def test_it_submits_the_model_to_every_task_of_a_type_as_the_evaluation_account(self):
        out = io.StringIO()
        for _ in range(2):  # the evaluation account uses no quota
            call_command(
                "evaluate_model", "acme/tiny@main", task_type="text-classification", stdout=out
            )
        runs = Submission.objects.filter(participant__username="evaluation")
        self.assertEqual(runs.count(), 2)
        self.assertEqual({s.model_sha for s in runs}, {self.commit})
        self.assertIn("sentiment/sst", out.getvalue())

    def test_without_a_benchmark_or_type_it_goes_where_the_architecture_fits(self):
        out = io.StringIO()
        call_command("evaluate_model", "acme/tiny", stdout=out)  # a sequence classifier
        self.assertEqual(
            list(Submission.objects.values_list("task__type", flat=True)),
            ["text-classification"],
        )

    def test_it_fails_clearly_for_an_unknown_model_or_benchmark(self):
        with self.assertRaisesMessage(CommandError, "acme/nothing"):
            call_command("evaluate_model", "acme/nothing", benchmark="sentiment")
        with self.assertRaisesMessage(CommandError, "No benchmark 'nope'"):
            call_command("evaluate_model", "acme/tiny", benchmark="nope")

    def test_staff_can_sweep_through_the_api_and_others_cannot(self):
        body = {"model": {"repo_id": "acme/tiny"}, "benchmark": "sentiment"}
        self.client.force_login(self.alice)
        response = self.client.post("/api/v1/models/evaluate/", body, "application/json")
        self.assert_errors(response, 403)
        self.client.force_login(self.staff)
        response = self.client.post("/api/v1/models/evaluate/", body, "application/json")
        self.assertEqual(response.status_code, 201, response.content)
        self.assertEqual(
            [(s["benchmark"], s["task"]) for s in response.json()["submissions"]],
            [("sentiment", "sst")],
        )
