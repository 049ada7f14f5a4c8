from django.urls import reverse

from benchmarks.models import Benchmark
from tests.base import PlatformTestCase, make_benchmark, make_scored_submission


class BenchmarkListTests(PlatformTestCase):
    url = reverse("benchmark_list")

    def test_anonymous_users_see_public_benchmarks(self):
        response = self.client.get(self.url)
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Sentiment")
        self.assertContains(response, reverse("benchmark_detail", args=["sentiment"]))

    def test_it_lists_neither_private_nor_unlisted_benchmarks_to_participants(self):
        make_benchmark("secret-bench", visibility=Benchmark.Visibility.PRIVATE)
        make_benchmark("by-link", visibility=Benchmark.Visibility.UNLISTED)
        self.client.force_login(self.alice)
        response = self.client.get(self.url)
        self.assertNotContains(response, "secret-bench")
        self.assertNotContains(response, "by-link")

    def test_maintainers_see_their_private_benchmarks(self):
        make_benchmark("secret-bench", visibility="private", maintainers=(self.author,))
        self.client.force_login(self.author)
        self.assertContains(self.client.get(self.url), "secret-bench")

    def test_it_shows_task_participant_and_submission_counts(self):
        make_scored_submission(self.benchmark, self.alice, {"dev": {"accuracy": 0.5}})
        make_scored_submission(self.benchmark, self.alice, {"dev": {"accuracy": 0.6}})
        make_scored_submission(self.benchmark, self.bob, {"dev": {"accuracy": 0.7}})
        # A baseline is a submission but its account is no participant.
        make_scored_submission(
            self.benchmark, self.author, {"dev": {"accuracy": 0.5}}, is_baseline=True
        )
        response = self.client.get(self.url)
        row = response.context["benchmarks"][0]
        self.assertEqual(
            (row.task_count, row.participant_count, row.submission_count, row.scored_count),
            (1, 2, 4, 4),
        )
        self.assertContains(response, "(4 scored)")

    def test_it_shows_whether_a_benchmark_is_open(self):
        self.assertContains(self.client.get(self.url), "Open")

    def test_the_query_count_does_not_grow_with_benchmarks_or_submissions(self):
        for i in range(3):
            benchmark = make_benchmark(f"extra-{i}")
            make_scored_submission(benchmark, self.alice, {"dev": {"accuracy": 0.5}})
        self.client.force_login(self.alice)
        # session, user, benchmarks with their counts
        with self.assertNumQueries(3):
            response = self.client.get(self.url)
        self.assertEqual(len(response.context["benchmarks"]), 4)

    def test_it_only_answers_get(self):
        self.assertEqual(self.client.post(self.url).status_code, 405)
