"""Uploading a bundle in the admin: a dry run that lists every problem (or what the import would
do) and changes nothing, then a separate confirmation that imports a private, closed draft
through the same service as `manage.py import_benchmark`."""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.conf import settings
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse

from benchmarks.models import Benchmark
from benchmarks.services import benchmark_import
from tests.base import make_scored_submission
from tests.benchmarks.test_bundle_import import (
    bundle_spec,
    default_files,
    rows,
    task_spec,
    write_bundle,
    zip_folder,
)
from tests.test_admin import BUNDLE_UPLOAD, AdminTestCase, demo_bundle_zip

CONFIRM = "admin:benchmarks_benchmark_import_confirm"
HOOK_CALLS: list[str] = []


def record_hook(*, benchmark) -> None:
    HOOK_CALLS.append(benchmark.slug)


class BundleUploadTestCase(AdminTestCase):
    def setUp(self):
        self.tmp = Path(self.enterContext(tempfile.TemporaryDirectory()))
        self.storage = self.tmp / "storage"
        storages = {
            **settings.STORAGES,
            "default": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(self.storage)},
            },
        }
        hooks = [f"{__name__}.record_hook"]
        self.enterContext(override_settings(STORAGES=storages, BENCHMARK_PUBLISHED_HOOKS=hooks))
        HOOK_CALLS.clear()
        self.client.force_login(self.author)

    def bundle_zip(self, name="bundle", **spec) -> SimpleUploadedFile:
        folder = write_bundle(self.tmp / name, spec=spec.pop("raw", None) or bundle_spec(**spec))
        return self.zip_upload(folder)

    def zip_upload(self, folder: Path) -> SimpleUploadedFile:
        out = zip_folder(folder, self.tmp / f"{folder.name}.zip")
        return SimpleUploadedFile(out.name, out.read_bytes())

    def dry_run(self, bundle, **data):
        return self.client.post(reverse(BUNDLE_UPLOAD), {"bundle": bundle, **data})

    def confirm(self, response):
        return self.client.post(reverse(CONFIRM), {"token": response.context["token"]})

    def staged(self) -> list[Path]:
        return sorted((self.storage / "bundle-uploads").glob("*"))

    def stored_splits(self) -> list[Path]:
        return sorted((self.storage / "splits").rglob("*.parquet"))


class DryRunTests(BundleUploadTestCase):
    def test_the_dry_run_changes_nothing_and_shows_what_the_import_would_do(self):
        response = self.dry_run(demo_bundle_zip())

        self.assertEqual(response.status_code, 200)
        plan = response.context["plan"]
        self.assertEqual((plan.slug, plan.replaces, plan.draft), ("sentiment-mini", None, True))
        self.assertEqual(
            [(s.name, s.role, s.rows, s.change) for s in plan.tasks[0].splits],
            [
                ("train", "train", 600, "new"),
                ("dev", "public", 300, "new"),
                ("test", "hidden", 600, "new"),
            ],
        )
        self.assertContains(response, "Creates a new benchmark.")
        self.assertContains(response, "It is a draft: private and closed to submissions")
        self.assertContains(response, reverse(CONFIRM))
        self.assertFalse(Benchmark.objects.filter(slug="sentiment-mini").exists())
        self.assertEqual(self.stored_splits(), [])
        self.assertEqual(len(self.staged()), 1)

    def test_every_problem_is_listed_in_one_pass(self):
        task = task_spec(metrics=["accuracy", {"name": "f1", "average": "mean"}])
        spec = bundle_spec(slug="rival-bench", tasks=[task], colour="blue")
        files = {**default_files(), "data/test.jsonl": rows("te", 5) + rows("te", 1)}
        folder = write_bundle(self.tmp / "bad", spec=spec, files=files)

        response = self.dry_run(self.zip_upload(folder))

        self.assertEqual(
            response.context["problems"],
            [
                "slug: 'rival-bench' belongs to a benchmark you do not maintain; choose "
                "another slug",
                "colour: unknown key; expected one of slug, title, description, license, "
                "citation, visibility, submission_policy, aggregate_weights, tasks, phases",
                "tasks[0].metrics[1].average: expected one of micro, macro, weighted, binary, "
                "got 'mean'",
                "tasks[0].data.splits.test: 1 ids occur more than once in split test, e.g. "
                "'te-000'",
            ],
        )
        self.assertContains(response, "The bundle has 4 problems; nothing was changed:")
        self.assertNotIn("plan", response.context)
        self.assertEqual(self.staged(), [])

    def test_a_file_that_is_no_zip_is_refused_with_a_sentence(self):
        response = self.dry_run(SimpleUploadedFile("bundle.zip", b"not a zip"))
        self.assertEqual(
            response.context["problems"], ["bundle.zip: expected a bundle folder or a .zip file"]
        )

    def test_a_new_upload_replaces_the_authors_waiting_archive(self):
        first = self.dry_run(demo_bundle_zip())
        self.dry_run(demo_bundle_zip())
        self.assertEqual(len(self.staged()), 1)

        response = self.confirm(first)

        self.assertRedirects(response, reverse(BUNDLE_UPLOAD))
        self.assertIn("was replaced or removed", str(list(get_messages(response.wsgi_request))[0]))
        self.assertFalse(Benchmark.objects.filter(slug="sentiment-mini").exists())

    def test_participants_can_neither_upload_nor_confirm(self):
        self.client.force_login(self.alice)
        for name in [BUNDLE_UPLOAD, CONFIRM]:
            with self.subTest(name=name):
                response = self.client.post(reverse(name), {"token": "x"})
                self.assertRedirects(response, f"{reverse('admin:login')}?next={reverse(name)}")


class ConfirmTests(BundleUploadTestCase):
    def test_confirming_imports_a_private_closed_draft_maintained_by_the_author(self):
        with self.captureOnCommitCallbacks(execute=True):
            response = self.confirm(self.dry_run(demo_bundle_zip()))

        benchmark = Benchmark.objects.get(slug="sentiment-mini")
        self.assertRedirects(response, self.url(Benchmark, "change", benchmark.pk))
        self.assertTrue(benchmark.is_draft)
        self.assertEqual(benchmark.visibility, Benchmark.Visibility.PRIVATE)
        self.assertFalse(benchmark.is_open())
        self.assertEqual(list(benchmark.maintainers.all()), [self.author])
        self.assertEqual(len(self.stored_splits()), 3)
        self.assertEqual(self.staged(), [])
        self.assertEqual(HOOK_CALLS, [], "a draft gets its baselines when it is published")
        message = str(list(get_messages(response.wsgi_request))[0])
        self.assertIn("Imported 'sentiment-mini' as a draft", message)

    def test_a_token_is_only_good_for_the_author_it_was_given_to(self):
        token = self.dry_run(demo_bundle_zip()).context["token"]
        for user, sent in [(self.rival, token), (self.author, token[:-2] + "xx")]:
            with self.subTest(user=user.username):
                self.client.force_login(user)
                response = self.client.post(reverse(CONFIRM), {"token": sent})
                self.assertRedirects(response, reverse(BUNDLE_UPLOAD))
        self.assertFalse(Benchmark.objects.filter(slug="sentiment-mini").exists())

    def test_the_confirmation_answers_only_post(self):
        self.assertEqual(self.client.get(reverse(CONFIRM)).status_code, 405)

    def test_a_slug_taken_between_the_dry_run_and_the_confirmation_is_reported(self):
        response = self.dry_run(self.bundle_zip())
        benchmark_import(source=write_bundle(self.tmp / "other"))  # takes the slug "mini"

        response = self.confirm(response)

        self.assertEqual(response.status_code, 200)
        self.assertIn("belongs to a benchmark you do not maintain", response.context["problems"][0])
        self.assertEqual(self.staged(), [])


class UpdateTests(BundleUploadTestCase):
    def setUp(self):
        super().setUp()
        self.published = benchmark_import(
            source=write_bundle(self.tmp / "v1"), maintainer=self.author
        )
        self.submission = make_scored_submission(
            self.published, self.alice, {"dev": {"accuracy": 0.5}}
        )

    def test_the_dry_run_of_an_update_names_what_changes(self):
        files = {**default_files(), "data/dev.jsonl": rows("dev", 12)}
        folder = write_bundle(self.tmp / "v2", files=files)

        response = self.dry_run(self.zip_upload(folder), update="on")

        plan = response.context["plan"]
        self.assertEqual(plan.replaces, self.published)
        self.assertFalse(plan.draft)
        self.assertEqual(
            [(s.name, s.rows, s.change) for s in plan.tasks[0].splits],
            [("train", 20, "unchanged"), ("dev", 12, "replaced"), ("test", 10, "unchanged")],
        )
        self.assertEqual(plan.rescore, 1)
        self.assertContains(response, "1 submission has scores on splits whose data changes")

    def test_an_update_of_a_published_benchmark_keeps_it_published_and_reruns_the_hooks(self):
        files = {**default_files(), "data/dev.jsonl": rows("dev", 12)}
        folder = write_bundle(self.tmp / "v2", files=files)
        response = self.dry_run(self.zip_upload(folder), update="on")

        with self.captureOnCommitCallbacks(execute=True):
            self.confirm(response)

        self.published.refresh_from_db()
        self.assertFalse(self.published.is_draft)
        self.assertEqual(self.published.visibility, Benchmark.Visibility.PUBLIC)
        self.assertEqual(self.published.tasks.get().splits.get(name="dev").num_rows, 12)
        self.assertEqual(HOOK_CALLS, ["mini"])

    def test_an_update_that_would_delete_scores_is_refused_by_the_dry_run(self):
        task = task_spec(data={"splits": {"test": {"path": "data/test.jsonl", "role": "hidden"}}})
        folder = write_bundle(self.tmp / "v2", spec=bundle_spec(tasks=[task]))

        response = self.dry_run(self.zip_upload(folder), update="on")

        self.assertEqual(
            response.context["problems"],
            [
                "tasks: split 'sst/dev' is missing from the bundle but 1 submission has scores "
                "on it; an update cannot delete scores. Keep it in the bundle (its data may "
                "change), or delete it in the admin."
            ],
        )
