import gzip
import html
import io
import zipfile
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from benchmarks.models import Benchmark, Task
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


class SubmissionCreateTests(PlatformTestCase):
    url = reverse("submission_create", args=["sentiment"])

    def setUp(self):
        self.client.force_login(self.alice)
        self.rows = gold_rows(self.benchmark)
        self.pairs = hidden_pairs(self.benchmark)

    def post(self, content: bytes, filename: str = "predictions.csv", **data):
        return self.client.post(self.url, {"file": upload(content, filename), **data})

    def assert_error_shown(self, response, *fragments):
        self.assertEqual(response.status_code, 400)
        page = html.unescape(response.content.decode())
        for fragment in fragments:
            self.assertIn(fragment, page)
        assert_no_hidden_labels(self, response.content, self.pairs)
        self.assertFalse(Submission.objects.exists())

    # Permissions

    def test_anonymous_users_are_sent_to_log_in(self):
        self.client.logout()
        response = self.client.get(self.url)
        self.assertRedirects(response, f"{reverse('login')}?next={self.url}")
        response = self.client.post(self.url, {"file": upload(prediction_csv(self.rows))})
        self.assertEqual(response.status_code, 302)
        self.assertFalse(Submission.objects.exists())

    def test_a_private_benchmark_is_a_404_to_other_users(self):
        make_benchmark("secret-bench", visibility=Benchmark.Visibility.PRIVATE)
        url = reverse("submission_create", args=["secret-bench"])
        self.assertEqual(self.client.get(url).status_code, 404)
        response = self.client.post(url, {"file": upload(prediction_csv(self.rows))})
        self.assertEqual(response.status_code, 404)

    def test_it_answers_only_get_and_post(self):
        self.assertEqual(self.client.put(self.url).status_code, 405)
        self.assertEqual(self.client.delete(self.url).status_code, 405)

    # The form page

    def test_the_form_shows_the_policy_and_the_remaining_quota(self):
        Benchmark.objects.filter(pk=self.benchmark.pk).update(max_total=3)
        Submission.objects.create(benchmark=self.benchmark, participant=self.alice)
        response = self.client.get(self.url)
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "3 submissions")
        self.assertContains(response, "<strong>2</strong> left", html=True)
        self.assertContains(response, 'type="file"')

    def test_failures_through_the_platforms_fault_do_not_use_quota(self):
        Benchmark.objects.filter(pk=self.benchmark.pk).update(max_total=2, max_per_day=1)
        Submission.objects.create(
            benchmark=self.benchmark,
            participant=self.alice,
            status=Submission.Status.FAILED,
            failed_by_platform=True,
        )
        quota = self.client.get(self.url).context["quota"]
        self.assertEqual((quota.total, quota.today), (2, 1))

    def test_a_single_task_benchmark_asks_for_no_task(self):
        self.assertNotContains(self.client.get(self.url), 'name="task"')

    def test_a_multi_task_benchmark_offers_a_task_choice(self):
        Task.objects.create(
            benchmark=self.benchmark,
            slug="second",
            title="Second",
            type="text-classification",
            label_column="label",
            metrics=[{"name": "accuracy"}],
            primary_metric="accuracy",
            position=1,
        )
        response = self.client.get(self.url)
        self.assertContains(response, 'name="task"')
        self.assertContains(response, '<option value="second">Second (second)</option>', html=True)

    def test_a_closed_benchmark_says_so_and_refuses_the_upload(self):
        Benchmark.objects.filter(pk=self.benchmark.pk).update(
            closes_at=timezone.now() - timedelta(days=1)
        )
        self.assertContains(self.client.get(self.url), "takes no more submissions")
        response = self.post(prediction_csv(self.rows))
        self.assert_error_shown(response, "Submissions closed at")

    # Success

    def test_a_valid_file_creates_a_queued_submission_and_redirects_to_it(self):
        # Scoring is enqueued once the row commits; here the callback is captured, not run.
        with self.captureOnCommitCallbacks() as callbacks:
            response = self.post(
                prediction_csv(self.rows, wrong={"test-001"}),
                filename="my-preds.csv",
                name="logreg",
                description="tf-idf",
            )
        submission = Submission.objects.get()
        self.assertRedirects(
            response,
            reverse("submission_detail", args=[submission.pk]),
            fetch_redirect_response=False,
        )
        self.assertEqual(
            (submission.participant, submission.status, submission.name, submission.description),
            (self.alice, Submission.Status.QUEUED, "logreg", "tf-idf"),
        )
        self.assertEqual(submission.original_filename, "my-preds.csv")
        self.assertEqual(len(callbacks), 1)

    # Errors, each shown on the page and none quoting a hidden label

    def test_it_rejects_a_file_with_a_wrong_extension(self):
        response = self.post(prediction_csv(self.rows), filename="predictions.txt")
        self.assert_error_shown(response, "'predictions.txt' is not a prediction file")

    def test_it_rejects_a_file_without_a_prediction_column(self):
        content = ("id,label\n" + "".join(f"{r['id']},x\n" for r in self.rows)).encode()
        response = self.post(content)
        self.assert_error_shown(response, "The file has no 'prediction' column")

    def test_it_rejects_a_file_with_missing_ids(self):
        response = self.post(prediction_csv(self.rows[:-3]))
        self.assert_error_shown(response, "3 ids of the task are missing from the file")

    def test_it_rejects_unknown_label_names(self):
        lines = prediction_csv(self.rows).decode().splitlines()
        lines = [line for line in lines if not line.startswith("test-002,")] + ["test-002,maybe"]
        response = self.post("\n".join(lines).encode())
        self.assert_error_shown(response, "1 prediction is not a", '"maybe"')

    def test_it_shows_every_problem_of_a_file_at_once(self):
        content = prediction_csv(self.rows[:-2]) + b"nobody-1,zz-label-pos\n"
        response = self.post(content)
        self.assert_error_shown(response, "2 ids of the task are missing", "1 id in the file")
        self.assertEqual(len(response.context["form"].non_field_errors()), 2)

    # Hostile files: a 400 on the page naming the problem, never a 500

    def test_it_rejects_a_gzip_bomb_at_the_decoded_size_cap(self):
        with self.settings(MAX_PREDICTION_DECODED_MB=1):
            response = self.post(gzip.compress(bytes(8 << 20)), filename="p.csv.gz")
        self.assert_error_shown(response, "larger than 1.0 MB once decompressed")

    def test_it_rejects_a_zip_holding_a_tasks_file_twice(self):
        sink = io.BytesIO()
        with zipfile.ZipFile(sink, "w") as archive:
            archive.writestr("sst.csv", prediction_csv(self.rows))
            archive.writestr("sst.jsonl", b"")
        response = self.post(sink.getvalue(), filename="all.zip")
        self.assert_error_shown(response, "sst.csv, sst.jsonl: 2 files for task 'sst'")

    def test_it_rejects_malformed_files_with_a_message(self):
        cases = [
            (b"c" * 140_000 + b"\n", "p.csv", "first line of the file is longer"),
            (b"id,prediction,id\n1,a,2\n", "p.csv", 'column "id" more than once'),
            (b"[" * 200_000, "p.json", "nested too deeply"),
            (b'{"id": "dev-000", "prediction": "\\ud800"}\n', "p.jsonl", "lone surrogate"),
        ]
        for content, filename, message in cases:
            with self.subTest(filename=filename, message=message):
                self.assert_error_shown(self.post(content, filename=filename), message)

    def test_a_long_file_name_is_accepted_and_shown_as_sent(self):
        name = "predictions-" + "x" * 230 + ".csv"
        response = self.post(prediction_csv(self.rows), filename=name)
        self.assertEqual(response.status_code, 302)
        self.assertEqual(Submission.objects.get().original_filename, name)

    def test_it_asks_for_a_file(self):
        response = self.client.post(self.url, {"name": "x"})
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "This field is required.", status_code=400)

    def test_it_refuses_a_submission_over_the_total_quota(self):
        Benchmark.objects.filter(pk=self.benchmark.pk).update(max_total=1)
        Submission.objects.create(benchmark=self.benchmark, participant=self.alice)
        response = self.post(prediction_csv(self.rows))
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "You have used all 1 submissions", status_code=400)
        self.assertEqual(Submission.objects.count(), 1)
