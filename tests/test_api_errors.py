"""An unexpected error in an API view answers 500 `{"errors": [...]}` without a stack trace,
and its log line names where it happened but not its message, which could quote data."""

from unittest import mock

from django.test import TestCase

from submissions.models import Submission
from tests.base import PlatformTestCase, make_benchmark, make_scored_submission


class UnexpectedApiErrorTests(PlatformTestCase):
    def test_it_answers_json_and_logs_without_the_exception_message(self):
        secret = "test-001 is zz-label-pos"
        with (
            mock.patch("benchmarks.api.BenchmarkListSerializer", side_effect=RuntimeError(secret)),
            self.assertLogs("config.api", "ERROR") as logs,
        ):
            response = self.client.get("/api/v1/benchmarks/")
        self.assertEqual(response.status_code, 500)
        self.assertEqual(list(response.json()), ["errors"])
        self.assertNotIn(secret, response.content.decode())
        log = "\n".join(logs.output)
        self.assertIn("RuntimeError", log)
        self.assertNotIn(secret, log)


class UnknownRouteTests(TestCase):
    def test_every_method_on_an_unknown_route_answers_a_json_404(self):
        for method in ("get", "post", "put", "patch", "delete"):
            response = getattr(self.client, method)("/api/v1/no-such-thing/")
            self.assertEqual(response.status_code, 404, method)
            self.assertEqual(response["Content-Type"], "application/json")
            (message,) = response.json()["errors"]
            self.assertIn("No API route", message)
        self.assertEqual(self.client.get("/api/v2/benchmarks/").status_code, 404)

    def test_a_known_route_without_its_slash_is_named(self):
        response = self.client.post("/api/v1/benchmarks", {"x": "1"})
        self.assertEqual(response.status_code, 404)
        self.assertIn("did you mean /api/v1/benchmarks/?", response.json()["errors"][0])


class OwnSubmissionListTests(PlatformTestCase):
    URL = "/api/v1/submissions/"

    def test_it_lists_only_ones_own_newest_first_with_filters(self):
        other = make_benchmark("other")
        first = make_scored_submission(self.benchmark, self.alice, {"test": {"accuracy": 0.5}})
        second = make_scored_submission(other, self.alice, {"test": {"accuracy": 0.5}})
        queued = Submission.objects.create(benchmark=self.benchmark, participant=self.alice)
        make_scored_submission(self.benchmark, self.bob, {"test": {"accuracy": 0.9}})
        self.assertEqual(self.client.get(self.URL).status_code, 401)
        self.client.force_login(self.alice)
        ids = [s["id"] for s in self.client.get(self.URL).json()["submissions"]]
        self.assertEqual(ids, [queued.pk, second.pk, first.pk])
        mine = self.client.get(self.URL, {"benchmark": "sentiment", "status": "scored"}).json()
        self.assertEqual([s["id"] for s in mine["submissions"]], [first.pk])
        self.assertEqual(mine["submissions"][0]["url"], f"/api/v1/submissions/{first.pk}/")
        self.assertIsNone(mine["next"])
        self.assert_errors(self.client.get(self.URL, {"status": "won"}), 400)
        self.assert_errors(self.client.get(self.URL, {"user": "bob"}), 400)

    def test_pages_of_fifty(self):
        Submission.objects.bulk_create(
            Submission(benchmark=self.benchmark, participant=self.alice) for _ in range(51)
        )
        self.client.force_login(self.alice)
        page = self.client.get(self.URL).json()
        self.assertEqual(len(page["submissions"]), 50)
        rest = self.client.get(page["next"]).json()
        self.assertEqual((len(rest["submissions"]), rest["next"]), (1, None))
