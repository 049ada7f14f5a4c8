"""Every page a participant can reach, searched for a hidden row's label (docs/formats.md)."""

from django.urls import reverse

from submissions.models import Submission
from submissions.pipeline import submission_score
from tests.base import (
    PlatformTestCase,
    assert_no_hidden_labels,
    gold_rows,
    hidden_pairs,
    prediction_csv,
    upload,
)


class HiddenLabelsOnPagesTests(PlatformTestCase):
    def setUp(self):
        self.client.force_login(self.alice)
        self.pairs = hidden_pairs(self.benchmark)
        self.rows = gold_rows(self.benchmark)

    def submit(self, content: bytes):
        # TestCase never commits, so scoring is not enqueued: the test scores it itself.
        return self.client.post(
            reverse("submission_create", args=["sentiment"]),
            {"file": upload(content), "name": "sweep"},
        )

    def pages(self, submission: Submission) -> dict[str, bytes]:
        urls = [
            reverse("benchmark_list"),
            reverse("benchmark_detail", args=["sentiment"]),
            reverse("leaderboard", args=["sentiment"]),
            reverse("leaderboard", args=["sentiment"]) + "?split=dev",
            reverse("leaderboard", args=["sentiment"]) + "?split=test&sort=f1_macro",
            reverse("submission_create", args=["sentiment"]),
            reverse("submission_detail", args=[submission.pk]),
            reverse("my_submissions"),
        ]
        for split in ("dev", "test"):
            for fmt in ("csv", "jsonl", "parquet"):
                urls.append(reverse("split_inputs", args=["sentiment", "sst", split, fmt]))
        pages = {}
        for url in urls:
            response = self.client.get(url)
            self.assertEqual(response.status_code, 200, url)
            pages[url] = response.content
        return pages

    def test_no_page_shows_a_hidden_label_after_a_scored_submission(self):
        wrong = {"test-001", "test-004", "dev-002"}
        self.assertEqual(self.submit(prediction_csv(self.rows, wrong=wrong)).status_code, 302)
        submission = Submission.objects.get()
        submission_score(submission_id=submission.pk)
        submission.refresh_from_db()
        self.assertEqual(submission.status, Submission.Status.SCORED, submission.error)
        for url, content in self.pages(submission).items():
            with self.subTest(url=url):
                assert_no_hidden_labels(self, content, self.pairs)

    def test_no_error_shown_on_the_form_quotes_a_hidden_label(self):
        # Missing and duplicated hidden ids, an unknown id and a bad label: the errors quote ids.
        rows = self.rows[:-2] + self.rows[-4:-3]
        content = prediction_csv(rows) + b"nobody,zz-label-pos\n"
        response = self.submit(content)
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "missing from the file", status_code=400)
        assert_no_hidden_labels(self, response.content, self.pairs)
