from django.urls import reverse

from benchmarks.models import Split
from submissions.models import Submission
from tests.base import PlatformTestCase, make_benchmark, make_scored_submission


class MySubmissionsTests(PlatformTestCase):
    url = reverse("my_submissions")

    def test_anonymous_users_are_sent_to_log_in(self):
        self.assertRedirects(self.client.get(self.url), f"{reverse('login')}?next={self.url}")

    def test_it_lists_only_the_users_own_submissions(self):
        make_scored_submission(self.benchmark, self.alice, {"dev": {"accuracy": 0.5}}, name="mine")
        make_scored_submission(self.benchmark, self.bob, {"dev": {"accuracy": 0.5}}, name="bobs")
        self.client.force_login(self.alice)
        response = self.client.get(self.url)
        self.assertContains(response, "mine")
        self.assertNotContains(response, "bobs")

    def test_it_only_answers_get(self):
        self.client.force_login(self.alice)
        self.assertEqual(self.client.post(self.url).status_code, 405)

    def test_it_lists_newest_first_across_benchmarks_with_status(self):
        other = make_benchmark("other-bench")
        Submission.objects.create(benchmark=self.benchmark, participant=self.alice, name="older")
        Submission.objects.create(
            benchmark=other, participant=self.alice, name="newer", status="failed"
        )
        self.client.force_login(self.alice)
        content = self.client.get(self.url).content.decode()
        self.assertLess(content.index("newer"), content.index("older"))
        self.assertIn("Other-Bench", content)
        self.assertIn("Failed", content)
        self.assertIn("Queued", content)

    def test_it_shows_the_primary_metric_of_scored_submissions(self):
        make_scored_submission(
            self.benchmark, self.alice, {"dev": {"accuracy": 0.812}, "test": {"accuracy": 0.799}}
        )
        self.client.force_login(self.alice)
        response = self.client.get(self.url)
        self.assertContains(response, "0.812")
        self.assertContains(response, "0.799")

    def test_it_withholds_after_close_scores(self):
        Split.objects.filter(pk=self.test_split.pk).update(reveal=Split.Reveal.AFTER_CLOSE)
        make_scored_submission(
            self.benchmark, self.alice, {"dev": {"accuracy": 0.812}, "test": {"accuracy": 0.799}}
        )
        self.client.force_login(self.alice)
        response = self.client.get(self.url)
        self.assertContains(response, "0.812")
        self.assertNotContains(response, "0.799")
        self.assertContains(response, "after close")

    def test_the_query_count_does_not_grow_with_submissions(self):
        other = make_benchmark("other-bench")
        for benchmark in (self.benchmark, other):
            make_scored_submission(benchmark, self.alice, {"dev": {"accuracy": 0.5}})
        self.client.force_login(self.alice)
        # session, user, page count, submissions, their evaluations
        with self.assertNumQueries(5):
            self.client.get(self.url)
        for benchmark in (self.benchmark, other, self.benchmark):
            make_scored_submission(
                benchmark, self.alice, {"dev": {"accuracy": 0.5}, "test": {"accuracy": 0.4}}
            )
            Submission.objects.create(benchmark=benchmark, participant=self.alice)
        with self.assertNumQueries(5):
            response = self.client.get(self.url)
        self.assertEqual(len(response.context["page"].object_list), 8)
