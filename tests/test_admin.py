"""The admin as the authors' UI: each author sees and edits only what they maintain."""

import hashlib
import io
import tempfile
import zipfile
from pathlib import Path

import pyarrow as pa
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse

from benchmarks.admin import SplitAdminForm
from benchmarks.authors import author_grant
from benchmarks.models import Benchmark, Split, Task
from submissions.models import Evaluation, Submission
from tests.base import (
    SECRET_LABELS,
    PlatformTestCase,
    classification_rows,
    make_benchmark,
    make_scored_submission,
    make_user,
    parquet_bytes,
)


def parquet_upload(rows, name="extra.parquet"):
    return SimpleUploadedFile(name, parquet_bytes(pa.Table.from_pylist(rows)))


class AdminTestCase(PlatformTestCase):
    @classmethod
    def setUpClass(cls):
        # Stored files (splits, uploads) go to a folder of this class's own.
        folder = tempfile.TemporaryDirectory(prefix="admin-tests-")
        storages = {
            **settings.STORAGES,
            "default": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": folder.name},
            },
        }
        storage = override_settings(STORAGES=storages)
        storage.enable()
        cls.addClassCleanup(folder.cleanup)
        cls.addClassCleanup(storage.disable)
        super().setUpClass()

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        author_grant(cls.author)
        cls.rival = make_user("rival")
        author_grant(cls.rival)
        cls.other = make_benchmark("rival-bench", maintainers=(cls.rival,))
        cls.other_task = cls.other.tasks.get()
        cls.root = make_user("root", is_staff=True, is_superuser=True)
        cls.mine = make_scored_submission(cls.benchmark, cls.alice, {"dev": {"accuracy": 0.5}})
        cls.theirs = make_scored_submission(cls.other, cls.bob, {"dev": {"accuracy": 0.6}})

    def url(self, model, action="changelist", *args):
        app = model._meta.app_label
        return reverse(f"admin:{app}_{model._meta.model_name}_{action}", args=args)


class AdminAccessTests(AdminTestCase):
    def test_the_admin_carries_the_platforms_name(self):
        self.client.force_login(self.author)
        response = self.client.get(reverse("admin:index"))
        self.assertContains(
            response, '<div id="site-name"><a href="/admin/">Benchmark platform</a>'
        )
        self.assertContains(response, "<title>Benchmarks, submissions and accounts | Benchmark")
        self.assertNotContains(response, "Django administration")
        self.assertNotContains(response, "Django site admin")

    def test_anonymous_users_are_sent_to_the_admin_login(self):
        response = self.client.get(self.url(Benchmark))
        self.assertEqual(response.status_code, 302)
        self.assertIn(reverse("admin:login"), response["Location"])

    def test_participants_cannot_use_the_admin(self):
        self.client.force_login(self.alice)
        self.assertEqual(self.client.get(self.url(Benchmark)).status_code, 302)

    def test_an_author_lists_only_their_own_rows_of_every_model(self):
        self.client.force_login(self.author)
        for model, mine in [
            (Benchmark, [self.benchmark]),
            (Task, [self.task]),
            (Split, [self.dev, self.test_split]),
            (Submission, [self.mine]),
            (Evaluation, list(self.mine.evaluations.all())),
        ]:
            with self.subTest(model=model.__name__):
                response = self.client.get(self.url(model))
                self.assertEqual(response.status_code, 200)
                self.assertEqual(set(response.context["cl"].queryset), set(mine))
                self.assertEqual(response.context["cl"].full_result_count, len(mine))

    def test_an_author_cannot_open_another_authors_benchmark(self):
        self.client.force_login(self.author)
        response = self.client.get(self.url(Benchmark, "change", self.other.pk))
        self.assertRedirects(response, reverse("admin:index"))
        response = self.client.post(self.url(Benchmark, "change", self.other.pk), {"title": "x"})
        self.assertEqual(response.status_code, 302)
        self.other.refresh_from_db()
        self.assertEqual(self.other.title, "Rival-Bench")

    def test_an_authors_filters_name_no_other_benchmark(self):
        self.client.force_login(self.author)
        self.assertNotContains(self.client.get(self.url(Submission)), "Rival-Bench")

    def test_a_superuser_sees_everything(self):
        self.client.force_login(self.root)
        response = self.client.get(self.url(Benchmark))
        self.assertEqual(set(response.context["cl"].queryset), {self.benchmark, self.other})

    def test_foreign_key_choices_are_limited_to_the_authors_benchmarks(self):
        self.client.force_login(self.author)
        form = self.client.get(self.url(Task, "add")).context["adminform"].form
        self.assertEqual(list(form.fields["benchmark"].queryset), [self.benchmark])
        form = self.client.get(self.url(Split, "add")).context["adminform"].form
        self.assertEqual(list(form.fields["task"].queryset), [self.task])


class BenchmarkAdminTests(AdminTestCase):
    def test_the_change_page_lists_the_tasks_inline(self):
        self.client.force_login(self.author)
        response = self.client.get(self.url(Benchmark, "change", self.benchmark.pk))
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, self.url(Task, "change", self.task.pk))

    def test_an_author_who_creates_a_benchmark_maintains_it(self):
        self.client.force_login(self.author)
        data = {
            "title": "Fresh",
            "slug": "fresh",
            "visibility": "public",
            "accepted_kinds": "[]",
            "aggregate_weights": "{}",
            "tasks-TOTAL_FORMS": "0",
            "tasks-INITIAL_FORMS": "0",
            "phases-TOTAL_FORMS": "0",
            "phases-INITIAL_FORMS": "0",
        }
        response = self.client.post(self.url(Benchmark, "add"), data)
        self.assertEqual(response.status_code, 302, response.content[:3000])
        fresh = Benchmark.objects.get(slug="fresh")
        self.assertEqual(list(fresh.maintainers.all()), [self.author])

    def test_a_maintainer_added_in_the_admin_can_then_use_the_admin(self):
        newcomer = make_user("co-author")
        self.client.force_login(self.author)
        data = {
            "title": "Shared",
            "slug": "shared",
            "visibility": "public",
            "accepted_kinds": "[]",
            "aggregate_weights": "{}",
            "maintainers": [newcomer.pk],
            "tasks-TOTAL_FORMS": "0",
            "tasks-INITIAL_FORMS": "0",
            "phases-TOTAL_FORMS": "0",
            "phases-INITIAL_FORMS": "0",
        }
        response = self.client.post(self.url(Benchmark, "add"), data)
        self.assertEqual(response.status_code, 302, response.content[:3000])
        self.client.force_login(newcomer)
        shared = Benchmark.objects.get(slug="shared")
        response = self.client.get(self.url(Benchmark, "change", shared.pk))
        self.assertEqual(response.status_code, 200)


class TaskAdminTests(AdminTestCase):
    def test_it_refuses_a_primary_metric_the_metrics_do_not_report(self):
        data = {
            "benchmark": self.benchmark.pk,
            "slug": "t2",
            "position": 1,
            "type": "text-classification",
            "id_column": "id",
            "input_columns": '["text"]',
            "label_column": "label",
            "label_names": '["a", "b"]',
            "metadata_columns": "[]",
            "metrics": '[{"name": "f1", "average": "macro"}]',
            "primary_metric": "accuracy",
            "slices": "[]",
            "model_run": "{}",
            "splits-TOTAL_FORMS": "0",
            "splits-INITIAL_FORMS": "0",
        }
        self.client.force_login(self.author)
        response = self.client.post(self.url(Task, "add"), data)
        self.assertContains(
            response,
            "primary_metric: expected one of the reported metric keys (f1_macro), got "
            "&#x27;accuracy&#x27;",
        )
        data["primary_metric"] = "f1_macro"
        self.assertEqual(self.client.post(self.url(Task, "add"), data).status_code, 302)
        data.update(slug="t3", metrics='[{"name": "mse"}]', primary_metric="mse")
        self.assertContains(
            self.client.post(self.url(Task, "add"), data),
            "metrics[0]: metric &#x27;mse&#x27; is not available for text-classification",
        )


class SplitAdminFormTests(AdminTestCase):
    def form(self, upload, **data):
        fields = {"task": self.task.pk, "name": "extra", "position": 3, "role": "public"}
        fields.update(reveal="always", inputs_downloadable="on", **data)
        return SplitAdminForm(data=fields, files={"data": upload})

    def test_it_records_the_fingerprint_and_row_count_of_the_stored_file(self):
        form = self.form(parquet_upload(classification_rows("extra", 7, SECRET_LABELS)))
        self.assertTrue(form.is_valid(), form.errors)
        split = form.save()
        self.assertEqual(split.num_rows, 7)
        with split.data.open("rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), split.fingerprint)

    def test_it_refuses_a_file_that_is_not_parquet(self):
        form = self.form(SimpleUploadedFile("extra.parquet", b"id,text\n1,hello\n"))
        self.assertFalse(form.is_valid())
        self.assertEqual(form.errors["data"], ["cannot read 'extra.parquet': not a Parquet file"])

    def test_it_refuses_a_file_without_the_tasks_columns(self):
        form = self.form(parquet_upload([{"id": "x", "text": "hello"}]))
        self.assertFalse(form.is_valid())
        self.assertEqual(
            form.errors["data"],
            [
                "split extra: metadata column 'topic' missing in split extra (columns: id, text)",
                "split extra: label column 'label' missing in split extra (columns: id, text)",
            ],
        )

    def test_an_author_uploads_a_split_through_the_admin(self):
        self.client.force_login(self.author)
        data = {
            "task": self.task.pk,
            "name": "extra",
            "position": 3,
            "role": "public",
            "reveal": "always",
            "inputs_downloadable": "on",
            "data": parquet_upload(classification_rows("extra", 4, SECRET_LABELS)),
        }
        response = self.client.post(self.url(Split, "add"), data)
        self.assertEqual(response.status_code, 302)
        self.assertEqual(Split.objects.get(name="extra").num_rows, 4)

    def test_an_author_cannot_add_a_split_to_another_authors_task(self):
        self.client.force_login(self.author)
        data = {
            "task": self.other_task.pk,
            "name": "extra",
            "position": 3,
            "role": "public",
            "reveal": "always",
            "data": parquet_upload(classification_rows("extra", 4, ["a", "b"])),
        }
        response = self.client.post(self.url(Split, "add"), data)
        self.assertEqual(response.status_code, 200)
        self.assertFalse(Split.objects.filter(name="extra").exists())


class SubmissionAdminTests(AdminTestCase):
    def change(self, submission, **data):
        fields = {"evaluations-TOTAL_FORMS": "0", "evaluations-INITIAL_FORMS": "0", **data}
        return self.client.post(self.url(Submission, "change", submission.pk), fields)

    def test_an_author_flags_a_submission_but_cannot_change_its_status(self):
        self.client.force_login(self.author)
        response = self.change(self.mine, is_baseline="on", is_hidden="on", status="queued")
        self.assertEqual(response.status_code, 302)
        self.mine.refresh_from_db()
        self.assertTrue(self.mine.is_baseline and self.mine.is_hidden)
        self.assertFalse(self.mine.is_disqualified)
        self.assertEqual(self.mine.status, Submission.Status.SCORED)

    def test_the_change_page_shows_the_status_read_only(self):
        self.client.force_login(self.author)
        response = self.client.get(self.url(Submission, "change", self.mine.pk))
        form = response.context["adminform"].form
        self.assertEqual(
            set(form.fields),
            {"is_baseline", "is_hidden", "is_disqualified", "moderation_reason"},
        )

    def test_an_author_cannot_flag_another_authors_submission(self):
        self.client.force_login(self.author)
        self.assertEqual(self.change(self.theirs, is_disqualified="on").status_code, 302)
        self.theirs.refresh_from_db()
        self.assertFalse(self.theirs.is_disqualified)

    def test_submissions_cannot_be_added_in_the_admin(self):
        self.client.force_login(self.root)
        self.assertEqual(self.client.get(self.url(Submission, "add")).status_code, 403)


class EvaluationAdminTests(AdminTestCase):
    def test_evaluations_are_read_only(self):
        evaluation = self.mine.evaluations.get()
        self.client.force_login(self.author)
        url = self.url(Evaluation, "change", evaluation.pk)
        response = self.client.get(url)
        self.assertEqual(response.status_code, 200)
        self.assertFalse(response.context["adminform"].form.fields)
        self.assertEqual(self.client.post(url, {"metrics": "{}"}).status_code, 403)
        evaluation.refresh_from_db()
        self.assertEqual(evaluation.value("accuracy"), 0.5)


class TaskAdminPageTests(AdminTestCase):
    def test_an_author_edits_a_task_with_its_splits_inline(self):
        self.client.force_login(self.author)
        response = self.client.get(self.url(Task, "change", self.task.pk))
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, self.url(Split, "change", self.dev.pk))
        self.assertContains(response, 'name="splits-0-data"')


def demo_bundle_zip(name="sentiment-mini") -> SimpleUploadedFile:
    root = Path(settings.BASE_DIR) / "demo" / name
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as archive:
        for file in sorted(root.rglob("*")):
            if file.is_file():
                archive.write(file, file.relative_to(root).as_posix())
    return SimpleUploadedFile(f"{name}.zip", sink.getvalue())


def upload_and_confirm(client, bundle, **data):
    """The admin's two steps: upload (the dry run), then confirm with the token it gave."""
    response = client.post(reverse(BUNDLE_UPLOAD), {"bundle": bundle, **data})
    if "token" not in response.context:
        return response
    confirm = reverse("admin:benchmarks_benchmark_import_confirm")
    return client.post(confirm, {"token": response.context["token"]})


BUNDLE_UPLOAD = "admin:benchmarks_benchmark_import"


class BundleImportAdminTests(AdminTestCase):
    url_name = BUNDLE_UPLOAD

    def test_an_author_imports_a_bundle_and_maintains_it(self):
        self.client.force_login(self.author)
        self.assertContains(self.client.get(self.url(Benchmark)), reverse(self.url_name))
        response = upload_and_confirm(self.client, demo_bundle_zip())
        benchmark = Benchmark.objects.get(slug="sentiment-mini")
        self.assertRedirects(response, self.url(Benchmark, "change", benchmark.pk))
        self.assertEqual(list(benchmark.maintainers.all()), [self.author])

    def test_every_problem_of_a_bad_bundle_is_listed(self):
        self.client.force_login(self.author)
        bad = SimpleUploadedFile("bad.zip", b"not a zip")
        response = self.client.post(reverse(self.url_name), {"bundle": bad})
        self.assertContains(response, "problem")
        self.assertContains(response, "zip")
        self.assertFalse(Benchmark.objects.filter(slug="sentiment-mini").exists())

    def test_an_author_cannot_replace_a_benchmark_they_do_not_maintain(self):
        self.client.force_login(self.rival)
        upload_and_confirm(self.client, demo_bundle_zip())
        imported = Benchmark.objects.get(slug="sentiment-mini")
        self.client.force_login(self.author)
        response = upload_and_confirm(self.client, demo_bundle_zip(), update="on")
        self.assertContains(response, "belongs to a benchmark you do not maintain")
        self.assertEqual(list(imported.maintainers.all()), [self.rival])

    def test_participants_cannot_import(self):
        self.client.force_login(self.alice)
        self.assertEqual(self.client.get(reverse(self.url_name)).status_code, 302)
