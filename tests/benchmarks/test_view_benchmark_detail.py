from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from benchmarks.markdown import render_markdown
from benchmarks.models import Benchmark
from tests.base import (
    SECRET_LABELS,
    PlatformTestCase,
    assert_no_hidden_labels,
    hidden_pairs,
    make_benchmark,
)


class BenchmarkDetailTests(PlatformTestCase):
    def url(self, slug="sentiment"):
        return reverse("benchmark_detail", args=[slug])

    def test_anonymous_users_see_a_public_benchmark(self):
        response = self.client.get(self.url())
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "<h1>Sentiment", html=False)

    def test_a_private_benchmark_is_a_404_to_participants_and_anonymous_users(self):
        make_benchmark("secret-bench", visibility=Benchmark.Visibility.PRIVATE)
        self.assertEqual(self.client.get(self.url("secret-bench")).status_code, 404)
        self.client.force_login(self.alice)
        self.assertEqual(self.client.get(self.url("secret-bench")).status_code, 404)

    def test_maintainers_see_their_private_benchmark(self):
        make_benchmark("secret-bench", visibility="private", maintainers=(self.author,))
        self.client.force_login(self.author)
        self.assertEqual(self.client.get(self.url("secret-bench")).status_code, 200)

    def test_an_unlisted_benchmark_is_reachable_by_link(self):
        make_benchmark("by-link", visibility=Benchmark.Visibility.UNLISTED)
        self.assertEqual(self.client.get(self.url("by-link")).status_code, 200)

    def test_an_unknown_benchmark_is_a_404(self):
        self.assertEqual(self.client.get(self.url("nope")).status_code, 404)

    def test_it_only_answers_get(self):
        self.assertEqual(self.client.post(self.url()).status_code, 405)

    def test_it_renders_the_description_as_markdown(self):
        Benchmark.objects.filter(pk=self.benchmark.pk).update(
            description="# Welcome\n\nSome **bold** words and a [link](https://example.org)."
        )
        response = self.client.get(self.url())
        self.assertContains(response, "<h1>Welcome</h1>", html=True)
        self.assertContains(response, "<strong>bold</strong>", html=True)
        self.assertContains(response, 'href="https://example.org"')

    def test_it_strips_scripts_and_event_handlers_from_the_description(self):
        Benchmark.objects.filter(pk=self.benchmark.pk).update(
            description='Hi <script>alert("x")</script> <img src=x onerror="alert(1)">'
            '<a href="javascript:alert(2)" onclick="steal()">click</a>'
        )
        content = self.client.get(self.url()).content.decode()
        self.assertNotIn("<script>alert", content)
        self.assertNotIn("onerror", content)
        self.assertNotIn("onclick", content)
        self.assertNotIn("javascript:", content)

    def test_it_shows_license_citation_and_rules(self):
        Benchmark.objects.filter(pk=self.benchmark.pk).update(
            license="cc-by-4.0",
            citation="@article{mini2026}",
            max_per_day=5,
            max_total=40,
            closes_at=timezone.now() + timedelta(days=3),
        )
        response = self.client.get(self.url())
        self.assertContains(response, "cc-by-4.0")
        self.assertContains(response, "@article{mini2026}")
        self.assertContains(response, "5 submissions per UTC day")
        self.assertContains(response, "40 submissions")
        self.assertContains(response, "prediction files")

    def test_it_describes_each_task_with_its_splits_and_metrics(self):
        response = self.client.get(self.url())
        for text in ["text-classification", "<code>text</code>", "accuracy", "f1 (macro)"]:
            self.assertContains(response, text)
        self.assertContains(response, "<strong>accuracy</strong>")
        for name in SECRET_LABELS:  # label names are public: participants need the label space
            self.assertContains(response, name)
        self.assertContains(response, "<strong>dev</strong>")
        self.assertContains(response, "<strong>test</strong>")

    def test_it_links_input_downloads_and_the_leaderboard_and_a_submit_button(self):
        response = self.client.get(self.url())
        for split in ("dev", "test"):
            for fmt in ("csv", "jsonl", "parquet"):
                url = reverse("split_inputs", args=["sentiment", "sst", split, fmt])
                self.assertContains(response, url)
        self.assertContains(response, reverse("leaderboard", args=["sentiment"]) + "?task=sst")
        self.assertContains(response, reverse("submission_create", args=["sentiment"]))

    def test_it_offers_no_download_for_a_split_whose_inputs_are_not_downloadable(self):
        self.test_split.inputs_downloadable = False
        self.test_split.save()
        response = self.client.get(self.url())
        self.assertNotContains(
            response, reverse("split_inputs", args=["sentiment", "sst", "test", "csv"])
        )
        self.assertContains(response, "not downloadable")

    def test_a_closed_benchmark_offers_no_submit_button(self):
        Benchmark.objects.filter(pk=self.benchmark.pk).update(
            closes_at=timezone.now() - timedelta(days=1)
        )
        response = self.client.get(self.url())
        self.assertNotContains(response, reverse("submission_create", args=["sentiment"]))
        self.assertContains(response, "closed to new submissions")

    def test_it_shows_no_hidden_label(self):
        assert_no_hidden_labels(
            self, self.client.get(self.url()).content, hidden_pairs(self.benchmark)
        )


class MarkdownRendererTests(PlatformTestCase):
    def test_it_removes_script_tags_with_their_content(self):
        self.assertNotIn("alert", render_markdown("a <script>alert(1)</script> b"))

    def test_it_removes_on_attributes(self):
        html = render_markdown('<p onmouseover="x()">hi</p><a href="/x" onclick="y()">a</a>')
        self.assertNotIn("onmouseover", html)
        self.assertNotIn("onclick", html)
        self.assertIn('href="/x"', html)

    def test_it_keeps_tables_and_code(self):
        html = render_markdown("|a|b|\n|-|-|\n|1|2|\n\n```\ncode\n```")
        self.assertIn("<table>", html)
        self.assertIn("<code>code", html)
