"""Drafts and publishing: a benchmark created in the admin is private and closed until an
author publishes it; publishing opens it and runs the published hooks (the automatic
baselines), while `import_benchmark` and `setup_demo` publish at once."""

from __future__ import annotations

from unittest import mock

from django.contrib.auth.models import AnonymousUser
from django.contrib.messages import get_messages
from django.test import override_settings

from benchmarks.models import Benchmark
from benchmarks.services import PublishError, benchmark_publish
from submissions.models import Submission
from submissions.services import SubmissionError, submission_create
from tests.base import gold_rows, make_benchmark, prediction_csv, upload
from tests.test_admin import AdminTestCase

HOOK_CALLS: list[str] = []


def record_hook(*, benchmark) -> None:
    HOOK_CALLS.append(benchmark.slug)


@override_settings(BENCHMARK_PUBLISHED_HOOKS=[f"{__name__}.record_hook"])
class PublishTestCase(AdminTestCase):
    def setUp(self):
        HOOK_CALLS.clear()
        self.client.force_login(self.author)

    def make_draft(self, slug="draft-bench") -> Benchmark:
        draft = make_benchmark(
            slug, maintainers=(self.author,), published_at=None, visibility="private"
        )
        return draft

    def act(self, action: str, *benchmarks: Benchmark):
        data = {"action": action, "_selected_action": [b.pk for b in benchmarks]}
        with self.captureOnCommitCallbacks(execute=True):
            response = self.client.post(self.url(Benchmark), data)
        return response, [str(m) for m in get_messages(response.wsgi_request)]


class DraftTests(PublishTestCase):
    def test_a_benchmark_added_in_the_admin_is_a_private_closed_draft(self):
        add = self.client.get(self.url(Benchmark, "add"))
        self.assertNotIn("visibility", add.context["adminform"].form.fields)
        self.assertContains(add, "Draft: private and closed to submissions")
        data = {
            "title": "Fresh",
            "slug": "fresh",
            "visibility": "public",  # not a field of a draft: ignored
            "accepted_kinds": "[]",
            "aggregate_weights": "{}",
            "tasks-TOTAL_FORMS": "0",
            "tasks-INITIAL_FORMS": "0",
            "phases-TOTAL_FORMS": "0",
            "phases-INITIAL_FORMS": "0",
        }
        response = self.client.post(self.url(Benchmark, "add"), data)
        self.assertEqual(response.status_code, 302)
        fresh = Benchmark.objects.get(slug="fresh")
        self.assertTrue(fresh.is_draft)
        self.assertEqual(fresh.visibility, Benchmark.Visibility.PRIVATE)
        self.assertFalse(fresh.is_open())
        self.assertNotIn(fresh, Benchmark.objects.visible_to(AnonymousUser()))
        self.assertNotIn(fresh, Benchmark.objects.visible_to(self.alice))

    def test_a_draft_refuses_submissions_even_from_its_maintainers(self):
        draft = self.make_draft()
        with self.assertRaises(SubmissionError) as refused:
            submission_create(
                benchmark=draft,
                participant=self.author,
                uploaded_file=upload(prediction_csv(gold_rows(draft))),
            )
        self.assertEqual(refused.exception.status_code, 403)
        self.assertIn("not published yet", str(refused.exception))
        self.assertFalse(Submission.objects.filter(benchmark=draft).exists())
        page = self.client.get(f"/b/{draft.slug}/")
        self.assertContains(page, "A draft: it takes submissions once its authors publish it.")
        self.assertNotContains(page, "Submit predictions")

    def test_the_list_says_which_benchmarks_are_drafts(self):
        self.make_draft()
        response = self.client.get(self.url(Benchmark), {"published": "no"})
        self.assertEqual([b.slug for b in response.context["cl"].queryset], ["draft-bench"])
        self.assertContains(response, "Draft")

    def test_a_published_benchmark_shows_its_visibility_again(self):
        response = self.client.get(self.url(Benchmark, "change", self.benchmark.pk))
        self.assertIn("visibility", response.context["adminform"].form.fields)
        self.assertContains(response, "Published ")


class PublishActionTests(PublishTestCase):
    def test_publishing_opens_the_draft_and_runs_the_hooks_once_committed(self):
        draft = self.make_draft()
        response, messages = self.act("publish", draft)
        self.assertEqual(response.status_code, 302)
        draft.refresh_from_db()
        self.assertFalse(draft.is_draft)
        self.assertEqual(draft.visibility, Benchmark.Visibility.PUBLIC)
        self.assertTrue(draft.is_open())
        self.assertEqual(HOOK_CALLS, ["draft-bench"])
        self.assertIn("Published 'draft-bench' (public)", messages[0])

    def test_publishing_as_unlisted(self):
        draft = self.make_draft()
        self.act("publish_unlisted", draft)
        draft.refresh_from_db()
        self.assertEqual(draft.visibility, Benchmark.Visibility.UNLISTED)
        self.assertFalse(draft.is_draft)

    def test_a_benchmark_an_import_would_refuse_stays_a_draft(self):
        empty = Benchmark.objects.create(
            slug="empty", title="Empty", published_at=None, visibility="private"
        )
        empty.maintainers.add(self.author)
        _, messages = self.act("publish", empty)
        self.assertEqual(
            messages,
            ["'empty' was not published: tasks: expected a non-empty list of tasks, got a list"],
        )
        empty.refresh_from_db()
        self.assertTrue(empty.is_draft)
        self.assertEqual(HOOK_CALLS, [])

    def test_a_published_benchmark_is_not_published_again(self):
        _, messages = self.act("publish", self.benchmark)
        self.assertEqual(
            messages, ["'sentiment' was not published: 'sentiment' is already published."]
        )
        self.assertEqual(HOOK_CALLS, [])

    def test_an_author_cannot_publish_another_authors_draft(self):
        theirs = make_benchmark(
            "theirs", maintainers=(self.rival,), published_at=None, visibility="private"
        )
        self.act("publish", theirs)
        theirs.refresh_from_db()
        self.assertTrue(theirs.is_draft)

    def test_a_published_visibility_is_public_or_unlisted(self):
        with self.assertRaises(ValueError):
            benchmark_publish(benchmark=self.make_draft(), visibility="private")

    def test_publish_refuses_a_benchmark_published_meanwhile(self):
        draft = self.make_draft()
        Benchmark.objects.filter(pk=draft.pk).update(published_at="2026-01-01T00:00:00Z")
        with self.assertRaisesMessage(PublishError, "'draft-bench' is already published."):
            benchmark_publish(benchmark=draft)


class PublishBaselinesTests(PublishTestCase):
    """The hook the settings name: the submissions app's automatic baselines."""

    @override_settings(
        BENCHMARK_PUBLISHED_HOOKS=["submissions.baselines.benchmark_baselines_create"]
    )
    def test_publishing_submits_the_automatic_baselines(self):
        draft = self.make_draft()
        with mock.patch("submissions.baselines.enqueue") as enqueue:
            self.act("publish", draft)
        baselines = Submission.objects.filter(benchmark=draft, is_baseline=True)
        self.assertTrue(baselines.exists())
        self.assertEqual(enqueue.call_count, baselines.count())
