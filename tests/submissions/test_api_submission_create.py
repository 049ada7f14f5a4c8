"""POST /api/v1/benchmarks/<slug>/submissions/ (prediction files; model submissions refused)."""

from __future__ import annotations

import gzip
import io
import zipfile
from datetime import timedelta
from unittest import mock

import pyarrow as pa
import pyarrow.parquet as pq
from django.test import override_settings
from django.utils import timezone
from rest_framework.authtoken.models import Token

from benchmarks.models import Benchmark
from submissions.models import Submission
from tests.base import (
    PlatformTestCase,
    assert_no_hidden_labels,
    gold_rows,
    hidden_pairs,
    make_benchmark,
    prediction_csv,
    upload,
)

URL = "/api/v1/benchmarks/sentiment/submissions/"


class SubmissionCreateApiTestCase(PlatformTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.rows = gold_rows(cls.benchmark)
        cls.good_csv = prediction_csv(cls.rows)

    def setUp(self):
        self.client.force_login(self.alice)

    def post(self, content=None, filename: str = "predictions.csv", url=URL, **data):
        if content is not None:
            data["file"] = upload(content, filename)
        return self.client.post(url, data)

    def assert_errors(self, response, status_code: int) -> list[str]:
        """A refused upload: an error answer with no hidden label, and nothing stored."""
        errors = super().assert_errors(response, status_code)
        assert_no_hidden_labels(self, errors, hidden_pairs(self.benchmark))
        self.assertEqual(Submission.objects.count(), 0)
        return errors

    def assert_rejected(self, content: bytes, *words: str, filename="predictions.csv") -> str:
        """A 400 whose message names the problem (every word in it) and shows no label."""
        text = " ".join(self.assert_errors(self.post(content, filename), 400))
        for word in words:
            self.assertIn(word, text)
        for label in ("zz-label-neg", "zz-label-pos"):
            self.assertNotIn(f"{label}\n", text)
        return text


class SubmissionCreateApiTests(SubmissionCreateApiTestCase):
    def test_it_accepts_a_prediction_file_and_answers_with_its_id_status_and_url(self):
        response = self.post(self.good_csv, filename="run1.csv", name=" My run ", description="d")
        self.assertEqual(response.status_code, 201, response.content)
        submission = Submission.objects.get()
        self.assertEqual(
            response.json(),
            {
                "id": submission.pk,
                "status": "queued",
                "url": f"/api/v1/submissions/{submission.pk}/",
            },
        )
        self.assertEqual(
            (submission.participant, submission.name, submission.description, submission.kind),
            (self.alice, "My run", "d", "predictions"),
        )
        self.assertEqual(submission.original_filename, "run1.csv")

    def test_it_enqueues_scoring_once_the_submission_is_committed(self):
        with (
            mock.patch("submissions.tasks.score_submission.apply_async") as apply_async,
            self.captureOnCommitCallbacks(execute=True),
        ):
            response = self.post(self.good_csv)
        apply_async.assert_called_once()
        self.assertEqual(apply_async.call_args.kwargs["args"], [response.json()["id"]])
        self.assertEqual(
            apply_async.call_args.kwargs["task_id"], Submission.objects.get().celery_task_id
        )

    def test_it_accepts_a_file_for_a_named_task(self):
        response = self.post(self.good_csv, task="sst")
        self.assertEqual(response.status_code, 201, response.content)
        self.assertEqual(Submission.objects.get().task, self.task)

    def test_an_empty_task_field_means_no_task_given(self):
        self.assertEqual(self.post(self.good_csv, task="").status_code, 201)

    def test_it_accepts_a_gzipped_file(self):
        response = self.post(gzip.compress(self.good_csv), filename="p.csv.gz")
        self.assertEqual(response.status_code, 201, response.content)

    def test_it_accepts_token_authentication(self):
        self.client.logout()
        key = Token.objects.create(user=self.bob).key
        response = self.client.post(
            URL, {"file": upload(self.good_csv)}, headers={"Authorization": f"Token {key}"}
        )
        self.assertEqual(response.status_code, 201, response.content)
        self.assertEqual(Submission.objects.get().participant, self.bob)

    def test_participants_cannot_set_status_or_flags(self):
        response = self.post(
            self.good_csv,
            status="scored",
            is_baseline="true",
            is_hidden="true",
            progress="1",
            participant=str(self.bob.pk),
        )
        self.assertEqual(response.status_code, 201)
        submission = Submission.objects.get()
        self.assertEqual(
            (submission.status, submission.is_baseline, submission.is_hidden, submission.progress),
            ("queued", False, False, 0.0),
        )
        self.assertEqual(submission.participant, self.alice)

    def test_anonymous_visitors_get_a_401_asking_for_a_token(self):
        self.client.logout()
        response = self.client.post(URL, {"file": upload(self.good_csv)})
        self.assert_errors(response, 401)
        self.assertEqual(response["WWW-Authenticate"], "Token")

    def test_a_bad_token_is_a_401(self):
        self.client.logout()
        response = self.client.post(
            URL, {"file": upload(self.good_csv)}, headers={"Authorization": "Token nope"}
        )
        self.assert_errors(response, 401)

    def test_a_private_benchmark_is_a_404_to_other_participants(self):
        make_benchmark("private-bench", maintainers=(self.author,), visibility="private")
        url = "/api/v1/benchmarks/private-bench/submissions/"
        self.assert_errors(self.post(self.good_csv, url=url), 404)

    def test_an_unknown_benchmark_is_a_404(self):
        self.assert_errors(
            self.post(self.good_csv, url="/api/v1/benchmarks/nope/submissions/"), 404
        )

    def test_it_refuses_other_methods(self):
        for method in ("get", "put", "patch", "delete"):
            self.assert_errors(getattr(self.client, method)(URL), 405)

    def test_an_unknown_task_is_a_400(self):
        errors = self.assert_errors(self.post(self.good_csv, task="nope"), 400)
        self.assertEqual(errors, ["task: No task 'nope' in this benchmark."])

    def test_a_request_without_a_file_is_a_400(self):
        errors = self.assert_errors(self.client.post(URL, {"name": "x"}), 400)
        self.assertIn("Attach a prediction file", errors[0])

    def test_a_json_body_without_a_model_or_file_is_a_400(self):
        response = self.client.post(URL, {"name": "x"}, content_type="application/json")
        self.assert_errors(response, 400)


class PredictionFileRejectionTests(SubmissionCreateApiTestCase):
    """Each bad file is a 400 saying what is wrong, with no label of any row."""

    def test_it_rejects_a_file_with_the_wrong_extension(self):
        self.assert_rejected(self.good_csv, ".csv", ".jsonl", filename="predictions.txt")

    def test_it_rejects_a_file_that_is_not_utf8(self):
        self.assert_rejected(self.good_csv.replace(b"dev-001", b"dev-\xff01"), "UTF-8")

    def test_it_rejects_a_file_without_an_id_or_prediction_column(self):
        content = self.good_csv.replace(b"id,prediction", b"row,label", 1)
        self.assert_rejected(content, "'id'", "'prediction'")

    def test_it_rejects_an_empty_file(self):
        self.assert_rejected(b"", "empty")

    def test_it_rejects_a_file_with_a_header_and_no_rows(self):
        self.assert_rejected(b"id,prediction\n", "no rows")

    def test_it_rejects_a_file_with_missing_ids_and_says_how_many(self):
        content = prediction_csv([r for r in self.rows if r["id"] not in {"test-003", "dev-004"}])
        self.assert_rejected(content, "2 ids", "missing", "test-003")

    def test_it_rejects_a_file_with_duplicate_ids(self):
        content = self.good_csv + prediction_csv(self.rows[:1]).split(b"\n", 1)[1]
        self.assert_rejected(content, "1 id", "more than once", self.rows[0]["id"])

    def test_it_rejects_a_file_with_unknown_ids(self):
        self.assert_rejected(self.good_csv + b"test-999,zz-label-pos\n", "not an id", "test-999")

    def test_it_rejects_predictions_that_are_not_label_names(self):
        content = self.good_csv.replace(b"test-002,zz-label-neg", b"test-002,maybe")
        self.assert_rejected(content, "not a label name", "maybe")

    @override_settings(MAX_PREDICTION_FILE_MB=1)
    def test_it_rejects_a_file_over_the_size_limit(self):
        content = self.good_csv + b"#" * (1024 * 1024)
        self.assert_rejected(content, "limit is 1 MB")

    def test_it_lists_every_problem_at_once(self):
        content = prediction_csv(self.rows[1:]) + b"nope-1,zz-label-neg\n"
        errors = self.assert_errors(self.post(content), 400)
        self.assertEqual(len(errors), 2, errors)


class SubmissionPolicyApiTests(SubmissionCreateApiTestCase):
    def set_policy(self, **fields):
        Benchmark.objects.filter(pk=self.benchmark.pk).update(**fields)

    def earlier_submission(self, **fields):
        fields.setdefault("status", "scored")
        return Submission.objects.create(benchmark=self.benchmark, participant=self.alice, **fields)

    def assert_refused(self, status_code: int, *words: str):
        count = Submission.objects.count()
        response = self.post(self.good_csv)
        self.assertEqual(response.status_code, status_code, response.content)
        errors = response.json()["errors"]
        for word in words:
            self.assertIn(word, errors[0])
        self.assertEqual(Submission.objects.count(), count)

    def test_it_refuses_a_submission_over_the_daily_quota_with_429(self):
        self.set_policy(max_per_day=1)
        self.earlier_submission()
        self.assert_refused(429, "today's 1 submissions", "resets at")

    def test_yesterdays_submissions_do_not_count_towards_the_daily_quota(self):
        self.set_policy(max_per_day=1)
        self.earlier_submission(created_at=timezone.now() - timedelta(days=1, hours=1))
        self.assertEqual(self.post(self.good_csv).status_code, 201)

    def test_it_refuses_a_submission_over_the_total_quota_with_429(self):
        self.set_policy(max_total=1)
        self.earlier_submission(created_at=timezone.now() - timedelta(days=30))
        self.assert_refused(429, "all 1 submissions")

    def test_runs_that_failed_through_the_platforms_fault_do_not_use_quota(self):
        self.set_policy(max_total=1, max_per_day=1)
        self.earlier_submission(status="failed", failed_by_platform=True)
        self.assertEqual(self.post(self.good_csv).status_code, 201)

    def test_other_participants_submissions_do_not_use_my_quota(self):
        self.set_policy(max_total=1)
        Submission.objects.create(benchmark=self.benchmark, participant=self.bob)
        self.assertEqual(self.post(self.good_csv).status_code, 201)

    def test_it_refuses_submissions_after_the_close_with_403(self):
        self.set_policy(closes_at=timezone.now() - timedelta(hours=1))
        self.assert_refused(403, "closed")

    def test_it_refuses_submissions_before_the_opening_with_403(self):
        self.set_policy(opens_at=timezone.now() + timedelta(hours=1))
        self.assert_refused(403, "open at")

    def test_it_refuses_prediction_files_where_only_models_are_accepted(self):
        self.set_policy(accepted_kinds=["model"])
        self.assert_refused(403, "does not accept predictions submissions")

    def test_a_model_submission_is_a_403_where_models_are_not_accepted(self):
        response = self.client.post(
            URL,
            {"model": {"repo_id": "org/m", "revision": "main"}},
            content_type="application/json",
        )
        self.assertEqual(response.status_code, 403)
        self.assertEqual(
            response.json(),
            {
                "errors": [
                    "This benchmark does not accept model submissions; it accepts predictions."
                ]
            },
        )

    def test_a_hub_model_that_is_not_there_is_a_400_naming_it(self):
        self.set_policy(accepted_kinds=["predictions", "model"])
        response = self.client.post(
            URL,
            {"model": {"repo_id": "org/m", "revision": "main"}},
            content_type="application/json",
        )
        self.assert_errors(response, 400)
        self.assertIn("org/m", response.json()["errors"][0])

    def test_a_model_archive_upload_is_refused_like_a_model_reference(self):
        response = self.client.post(URL, {"model_archive": upload(b"PK", "model.zip")})
        self.assert_errors(response, 403)

    def test_a_model_archive_that_is_no_archive_is_a_400(self):
        self.set_policy(accepted_kinds=["predictions", "model"])
        response = self.client.post(URL, {"model_archive": upload(b"PK", "model.zip")})
        self.assert_errors(response, 400)


def zipped(files: list[tuple[str, bytes]]) -> bytes:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files:
            archive.writestr(name, content)
    return sink.getvalue()


class HostileFileApiTests(SubmissionCreateApiTestCase):
    """Files built to cost memory or crash the parser: each a 400 naming what is wrong (the
    memory each costs is measured in tests/scoring_pure/test_hostile_predictions.py and
    tests/pipeline/test_hostile_uploads.py)."""

    @override_settings(MAX_PREDICTION_DECODED_MB=1)
    def test_a_gzip_bomb_is_refused_at_the_decoded_size_cap(self):
        bomb = gzip.compress(b"id,prediction\n" + bytes(8 << 20))
        self.assert_rejected(bomb, "larger than 1.0 MB once decompressed", filename="p.csv.gz")

    @override_settings(MAX_PREDICTION_DECODED_MB=1)
    def test_a_zip_member_declaring_more_than_the_cap_is_refused_from_the_directory(self):
        content = zipped([("sst.csv", b"id,prediction\n" + bytes(8 << 20))])
        self.assert_rejected(content, "sst.csv: it unpacks to 8 MB", "1 MB", filename="p.zip")

    def test_a_zip_with_a_tasks_file_twice_is_refused_naming_both(self):
        content = zipped([("sst.csv", self.good_csv), ("dir/sst.csv", self.good_csv)])
        self.assert_rejected(
            content, "sst.csv, dir/sst.csv: 2 files for task 'sst'", filename="p.zip"
        )
        content = zipped([("sst.csv", self.good_csv), ("sst.jsonl", b"")])
        self.assert_rejected(content, "sst.csv, sst.jsonl: 2 files", filename="p.zip")

    def test_a_parquet_file_with_more_rows_than_the_benchmark_has_ids_is_refused(self):
        rows = pa.table({"id": [f"x{i}" for i in range(5_000)], "prediction": ["a"] * 5_000})
        sink = io.BytesIO()
        pq.write_table(rows, sink)
        # 20 ids, plus 10% and 1,000.
        self.assert_rejected(sink.getvalue(), "more than 1,022 rows", filename="p.parquet")

    def test_a_csv_header_longer_than_a_line_should_be_is_refused(self):
        self.assert_rejected(b"c" * 140_000 + b"\n1\n", "first line of the file is longer")

    def test_cr_only_line_endings_are_accepted(self):
        response = self.post(self.good_csv.replace(b"\n", b"\r"))
        self.assertEqual(response.status_code, 201, response.content)

    def test_duplicate_column_names_are_refused(self):
        content = self.good_csv.replace(b"id,prediction", b"id,prediction,id", 1)
        self.assert_rejected(content, 'column "id" more than once')

    def test_deeply_nested_json_is_refused(self):
        self.assert_rejected(b"[" * 200_000, "nested too deeply", filename="p.json")
        line = b'{"id": "dev-000", "prediction": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"
        self.assert_rejected(line, "Line 1 is nested too deeply", filename="p.jsonl")

    def test_a_lone_surrogate_escape_is_refused(self):
        content = b'{"id": "dev-000", "prediction": "\\ud800"}\n'
        self.assert_rejected(content, "lone surrogate", filename="p.jsonl")

    def test_a_row_longer_than_a_parsing_block_is_named(self):
        content = b"id,prediction\ndev-000," + b"x" * (12 << 20) + b"\n"
        self.assert_rejected(content, "a row is longer than 4.0 MB", "or a quote is not closed")

    def test_a_long_file_name_is_kept_for_display_and_shortened_for_storage(self):
        for name in ("p" * 240 + ".csv", "é" * 200 + ".csv.gz"):
            content = gzip.compress(self.good_csv) if name.endswith(".gz") else self.good_csv
            response = self.post(content, filename=name)
            self.assertEqual(response.status_code, 201, response.content)
            submission = Submission.objects.get(pk=response.json()["id"])
            self.assertEqual(submission.original_filename, name)
            stored = submission.file.name.rsplit("/", 1)[-1]
            self.assertLessEqual(len(stored.encode()), 100)
            self.assertTrue(stored.endswith(name[-7:].replace("é", "_")), stored)
