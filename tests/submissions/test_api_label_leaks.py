"""Hidden labels never leave the server through the API (docs/formats.md): every endpoint a
participant can reach, on good and bad requests, is searched for a hidden row's label."""

from __future__ import annotations

from submissions.models import Evaluation, Submission
from tests.base import (
    PlatformTestCase,
    assert_no_hidden_labels,
    gold_rows,
    hidden_pairs,
    make_scored_submission,
    prediction_csv,
    upload,
)


class NoHiddenLabelsInTheApiTests(PlatformTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.pairs = hidden_pairs(cls.benchmark)
        cls.scored = make_scored_submission(
            cls.benchmark, cls.alice, {"dev": {"accuracy": 0.8}, "test": {"accuracy": 0.7}}
        )
        # Per-row data the scorer may keep beside an evaluation (error examples, a confusion
        # matrix): planted with hidden labels, so that a serializer dumping it would be caught.
        planted = [{"id": row_id, "label": label} for row_id, label in cls.pairs]
        Evaluation.objects.filter(submission=cls.scored).update(
            slices=[{"slice": "topic", "cell": "food", "n": 5, "metrics": {}, "examples": planted}],
            confusion={"examples": planted},
            provenance={"rows": planted},
        )
        cls.failed = Submission.objects.create(
            benchmark=cls.benchmark,
            participant=cls.alice,
            status=Submission.Status.FAILED,
            error='1 id of the task is missing from the file, e.g. "test-001".',
        )

    def assert_clean(self, response, *, status_code: int = 200):
        self.assertEqual(response.status_code, status_code, response.content[:500])
        assert_no_hidden_labels(self, response.content, self.pairs)

    def test_the_planted_rows_are_found_by_the_check(self):
        content = str([{"id": i, "label": label} for i, label in self.pairs])
        with self.assertRaises(AssertionError):
            assert_no_hidden_labels(self, content, self.pairs)

    def test_no_read_endpoint_shows_a_hidden_label(self):
        self.client.force_login(self.alice)
        base = "/api/v1/benchmarks/sentiment"
        urls = [
            "/api/v1/benchmarks/",
            f"{base}/",
            f"{base}/leaderboard/",
            f"{base}/leaderboard/?split=dev",
            f"{base}/leaderboard/?split=test&sort=accuracy",
            f"/api/v1/submissions/{self.scored.pk}/",
            f"/api/v1/submissions/{self.failed.pk}/",
        ]
        for split in ("dev", "test"):
            for fmt in ("csv", "jsonl", "parquet"):
                urls.append(f"{base}/tasks/sst/splits/{split}/inputs?format={fmt}")
        for url in urls:
            with self.subTest(url=url):
                self.assert_clean(self.client.get(url))

    def test_no_error_answer_shows_a_hidden_label(self):
        self.client.force_login(self.alice)
        self.assert_clean(
            self.client.post(f"/api/v1/submissions/{self.scored.pk}/cancel/"), status_code=400
        )
        rows = gold_rows(self.benchmark)
        hidden = [r for r in rows if r["id"].startswith("test-")]
        bad_files = {
            "missing": prediction_csv(rows[:-3]),
            "duplicated": prediction_csv(rows + hidden[:3]),
            "unknown": prediction_csv(rows) + b"test-999,zz-label-neg\n",
            "wrong labels": prediction_csv(rows).replace(b",zz-label-", b",not-a-label-"),
            "all wrong": prediction_csv(rows, wrong={r["id"] for r in hidden})[:-40],
        }
        for what, content in bad_files.items():
            with self.subTest(what):
                response = self.client.post(
                    "/api/v1/benchmarks/sentiment/submissions/", {"file": upload(content)}
                )
                self.assert_clean(response, status_code=400)

    def test_an_accepted_submission_answer_shows_no_hidden_label(self):
        self.client.force_login(self.bob)
        content = prediction_csv(gold_rows(self.benchmark))
        response = self.client.post(
            "/api/v1/benchmarks/sentiment/submissions/", {"file": upload(content)}
        )
        self.assert_clean(response, status_code=201)
