"""`manage.py import_benchmark` publishes at once (the published hooks run: the automatic
baselines), and says who can manage a benchmark imported without a maintainer."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.test import override_settings
from django.urls import reverse

from benchmarks.models import Benchmark
from tests.benchmarks.test_bundle_import import DEMO, BundleTestCase
from tests.benchmarks.test_import_export_commands import run

HOOK_CALLS: list[str] = []


def record_hook(*, benchmark) -> None:
    HOOK_CALLS.append(benchmark.slug)


@override_settings(BENCHMARK_PUBLISHED_HOOKS=[f"{__name__}.record_hook"])
class ImportCommandPublishingTests(BundleTestCase):
    def setUp(self):
        super().setUp()
        HOOK_CALLS.clear()

    def test_without_a_maintainer_it_says_only_operators_can_manage_the_benchmark(self):
        out, _ = run("import_benchmark", str(DEMO))

        self.assertIn(
            "No maintainer given: only operators (staff) can manage 'sentiment-mini' until "
            "one is added in the admin.",
            out,
        )
        operator = get_user_model().objects.create_user(
            "operator", is_staff=True, is_superuser=True
        )
        self.client.force_login(operator)
        response = self.client.get(reverse("admin:benchmarks_benchmark_changelist"))
        self.assertEqual([b.slug for b in response.context["cl"].queryset], ["sentiment-mini"])

    def test_with_a_maintainer_it_says_nothing_of_operators(self):
        get_user_model().objects.create_user("author")
        out, _ = run("import_benchmark", str(DEMO), "--maintainer", "author")
        self.assertNotIn("No maintainer given", out)

    def test_the_benchmark_is_published_at_once_and_the_hooks_run(self):
        with self.captureOnCommitCallbacks(execute=True):
            run("import_benchmark", str(DEMO))

        benchmark = Benchmark.objects.get()
        self.assertFalse(benchmark.is_draft)
        self.assertEqual(benchmark.visibility, Benchmark.Visibility.PUBLIC)
        self.assertTrue(benchmark.is_open())
        self.assertEqual(HOOK_CALLS, ["sentiment-mini"])

    def test_an_update_publishes_a_draft(self):
        run("import_benchmark", str(DEMO))
        Benchmark.objects.update(published_at=None, visibility="private")

        run("import_benchmark", str(DEMO), "--update")

        benchmark = Benchmark.objects.get()
        self.assertFalse(benchmark.is_draft)
        self.assertEqual(benchmark.visibility, Benchmark.Visibility.PUBLIC)
