"""GET /api/v1/benchmarks/ and GET /api/v1/benchmarks/<slug>/."""

from __future__ import annotations

from benchmarks.models import Benchmark
from tests.base import PlatformTestCase, assert_no_hidden_labels, hidden_pairs, make_benchmark

LIST_URL = "/api/v1/benchmarks/"


def detail_url(slug: str) -> str:
    return f"/api/v1/benchmarks/{slug}/"


class BenchmarkListApiTests(PlatformTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.private = make_benchmark(
            "private-bench", maintainers=(cls.author,), visibility=Benchmark.Visibility.PRIVATE
        )
        cls.unlisted = make_benchmark("unlisted-bench", visibility=Benchmark.Visibility.UNLISTED)

    def slugs(self, response) -> list[str]:
        self.assertEqual(response.status_code, 200)
        return [b["slug"] for b in response.json()]

    def test_it_lists_public_benchmarks_to_anonymous_visitors(self):
        response = self.client.get(LIST_URL)
        self.assertEqual(
            response.json(),
            [
                {
                    "slug": "sentiment",
                    "title": "Sentiment",
                    "url": "/api/v1/benchmarks/sentiment/",
                    "tasks": ["sst"],
                    "visibility": "public",
                    "is_open": True,
                }
            ],
        )

    def test_it_lists_a_private_benchmark_to_its_maintainers_only(self):
        self.client.force_login(self.author)
        self.assertEqual(self.slugs(self.client.get(LIST_URL)), ["private-bench", "sentiment"])
        self.client.force_login(self.alice)
        self.assertEqual(self.slugs(self.client.get(LIST_URL)), ["sentiment"])

    def test_staff_see_every_benchmark(self):
        self.client.force_login(self.staff)
        self.assertEqual(
            self.slugs(self.client.get(LIST_URL)), ["private-bench", "sentiment", "unlisted-bench"]
        )

    def test_it_reports_a_closed_benchmark_as_not_open(self):
        Benchmark.objects.filter(pk=self.benchmark.pk).update(closes_at="2000-01-01T00:00:00Z")
        self.assertIs(self.client.get(LIST_URL).json()[0]["is_open"], False)

    def test_it_refuses_writes(self):
        self.client.force_login(self.staff)
        for method in ("post", "put", "patch", "delete"):
            response = getattr(self.client, method)(LIST_URL, {}, content_type="application/json")
            self.assert_errors(response, 405)

    def test_it_takes_two_queries_however_many_benchmarks(self):
        for i in range(3):
            make_benchmark(f"extra-{i}")
        with self.assertNumQueries(2):
            self.assertEqual(len(self.client.get(LIST_URL).json()), 4)


class BenchmarkDetailApiTests(PlatformTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.private = make_benchmark(
            "private-bench", maintainers=(cls.author,), visibility=Benchmark.Visibility.PRIVATE
        )
        cls.unlisted = make_benchmark("unlisted-bench", visibility=Benchmark.Visibility.UNLISTED)

    def test_it_describes_the_policy_tasks_metrics_and_splits(self):
        Benchmark.objects.filter(pk=self.benchmark.pk).update(
            license="cc-by-4.0", max_per_day=5, max_total=100
        )
        self.test_split.inputs_downloadable = False
        self.test_split.save(update_fields=["inputs_downloadable"])
        body = self.client.get(detail_url("sentiment")).json()
        self.assertEqual(body["slug"], "sentiment")
        self.assertEqual(body["license"], "cc-by-4.0")
        self.assertEqual(body["visibility"], "public")
        self.assertEqual(
            body["policy"],
            {
                "kinds": ["predictions"],
                "max_per_day": 5,
                "max_total": 100,
                "opens_at": None,
                "closes_at": None,
            },
        )
        self.assertEqual(
            body["tasks"],
            [
                {
                    "slug": "sst",
                    "title": "Sentiment",
                    "type": "text-classification",
                    "inputs": ["text"],
                    "labels": ["zz-label-neg", "zz-label-pos"],
                    "metrics": [{"name": "accuracy"}, {"name": "f1", "average": "macro"}],
                    "primary_metric": "accuracy",
                    "splits": [
                        {
                            "name": "dev",
                            "role": "public",
                            "rows": 10,
                            "reveal": "always",
                            "inputs_downloadable": True,
                            "inputs_url": (
                                "/api/v1/benchmarks/sentiment/tasks/sst/splits/dev/inputs"
                            ),
                            "inputs_include_labels": True,
                        },
                        {
                            "name": "test",
                            "role": "hidden",
                            "rows": 10,
                            "reveal": "always",
                            "inputs_downloadable": False,
                            "inputs_url": None,
                            "inputs_include_labels": False,
                        },
                    ],
                }
            ],
        )

    def test_it_shows_no_rows_of_any_split(self):
        response = self.client.get(detail_url("sentiment"))
        assert_no_hidden_labels(self, response.content, hidden_pairs(self.benchmark))
        self.assertNotIn(b"test-000", response.content)
        self.assertNotIn(b"sample text", response.content)

    def test_anonymous_visitors_can_read_a_public_benchmark(self):
        self.assertEqual(self.client.get(detail_url("sentiment")).status_code, 200)

    def test_an_unlisted_benchmark_is_reachable_by_its_url(self):
        self.assertEqual(self.client.get(detail_url("unlisted-bench")).status_code, 200)

    def test_a_private_benchmark_is_a_404_to_anonymous_visitors(self):
        self.assert_errors(self.client.get(detail_url("private-bench")), 404)

    def test_a_private_benchmark_is_a_404_to_other_participants(self):
        self.client.force_login(self.alice)
        self.assert_errors(self.client.get(detail_url("private-bench")), 404)

    def test_a_private_benchmark_is_shown_to_its_maintainers(self):
        self.client.force_login(self.author)
        self.assertEqual(self.client.get(detail_url("private-bench")).status_code, 200)

    def test_an_unknown_benchmark_is_a_404(self):
        self.assert_errors(self.client.get(detail_url("nope")), 404)

    def test_it_cannot_be_changed_through_the_api(self):
        self.client.force_login(self.author)
        for method in ("post", "put", "patch", "delete"):
            response = getattr(self.client, method)(
                detail_url("sentiment"), {"title": "Changed"}, content_type="application/json"
            )
            self.assert_errors(response, 405)
        self.benchmark.refresh_from_db()
        self.assertEqual(self.benchmark.title, "Sentiment")

    def test_it_takes_three_queries(self):
        with self.assertNumQueries(3):
            self.client.get(detail_url("sentiment"))
