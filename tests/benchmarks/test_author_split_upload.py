"""An author uploads a split in the admin as CSV, JSON lines or Parquet: read by the bundle's
reader, checked and frozen as a bundle's split is, with the bundle's sentences for bad files."""

from __future__ import annotations

import gzip
import io
import json

import pyarrow.parquet as pq
from django.core.files.uploadedfile import SimpleUploadedFile

from benchmarks.admin import SplitAdminForm
from benchmarks.models import Split, Task
from tests.base import SECRET_LABELS, classification_rows
from tests.benchmarks.test_author_task_editor import task_form_data
from tests.test_admin import AdminTestCase, parquet_upload


def csv_bytes(rows: list[dict]) -> bytes:
    header = list(rows[0])
    lines = [",".join(header)] + [",".join(str(row[c]) for c in header) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def jsonl_bytes(rows: list[dict]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def stored_rows(split: Split) -> list[dict]:
    with split.data.open("rb") as f:
        return pq.read_table(f).to_pylist()


class SplitUploadTests(AdminTestCase):
    def form(self, upload, *, instance=None, **data):
        fields = {"task": self.task.pk, "name": "extra", "position": 3, "role": "public"}
        fields.update(reveal="always", inputs_downloadable="on", **data)
        return SplitAdminForm(data=fields, files={"data": upload}, instance=instance)

    def assert_saved(self, upload, rows: int) -> Split:
        form = self.form(upload)
        self.assertTrue(form.is_valid(), form.errors)
        split = form.save()
        self.assertEqual(split.num_rows, rows)
        self.assertTrue(split.data.name.endswith(f"{split.fingerprint[:16]}.parquet"))
        return split

    def test_a_csv_file_is_frozen_to_parquet_keeping_ids_as_text(self):
        rows = classification_rows("x", 4, SECRET_LABELS)
        rows[0]["id"] = "007"
        split = self.assert_saved(SimpleUploadedFile("extra.csv", csv_bytes(rows)), 4)
        stored = stored_rows(split)
        self.assertEqual(stored[0]["id"], "007")
        self.assertEqual(list(stored[0]), ["id", "text", "label", "topic"])
        self.assertEqual(split.source, "upload: extra.csv")

    def test_a_json_lines_file_and_a_gzipped_csv_are_accepted(self):
        rows = classification_rows("j", 5, SECRET_LABELS)
        self.assert_saved(SimpleUploadedFile("extra.jsonl", jsonl_bytes(rows)), 5)
        Split.objects.filter(name="extra").delete()
        gz = gzip.compress(csv_bytes(classification_rows("g", 3, SECRET_LABELS)))
        self.assert_saved(SimpleUploadedFile("extra.csv.gz", gz), 3)

    def test_the_same_rows_freeze_to_the_same_file_whatever_the_format(self):
        rows = classification_rows("same", 6, SECRET_LABELS)
        fingerprints = set()
        for upload in [
            SimpleUploadedFile("extra.csv", csv_bytes(rows)),
            SimpleUploadedFile("extra.jsonl", jsonl_bytes(rows)),
            parquet_upload(rows),
        ]:
            form = self.form(upload)
            self.assertTrue(form.is_valid(), form.errors)
            fingerprints.add(form.instance.fingerprint)
        self.assertEqual(len(fingerprints), 1)

    def test_bad_files_get_a_sentence_each(self):
        cases = [
            (
                SimpleUploadedFile("extra.xlsx", b"PK"),
                ["expected a .csv, .jsonl or .parquet file (optionally .gz), got 'extra.xlsx'"],
            ),
            (
                SimpleUploadedFile("extra.jsonl", b'{"id": "a"}\n{"id": \n'),
                [
                    "cannot read 'extra.jsonl': line 2 is not valid JSON (Expecting value at "
                    "character 8)"
                ],
            ),
            (
                SimpleUploadedFile("extra.csv.gz", b"not gzip"),
                ["cannot read 'extra.csv.gz': the file ends in .gz but is not valid gzip data"],
            ),
            (
                SimpleUploadedFile("extra.csv", b"id,text,label,topic\n"),
                ["split extra: split extra has no rows"],
            ),
        ]
        for upload, expected in cases:
            with self.subTest(name=upload.name):
                form = self.form(upload)
                self.assertFalse(form.is_valid())
                self.assertEqual(form.errors["data"], expected)

    def test_ids_must_be_unique_across_the_tasks_splits(self):
        rows = classification_rows("dev", 3, SECRET_LABELS)  # the ids of split dev
        form = self.form(SimpleUploadedFile("extra.csv", csv_bytes(rows)))
        self.assertFalse(form.is_valid())
        self.assertEqual(
            form.errors["data"],
            [
                "split extra: 3 ids of split extra also occur in split dev (ids must be unique "
                "across a task's splits), e.g. 'dev-000', 'dev-001', 'dev-002'"
            ],
        )

    def test_replacing_a_splits_file_does_not_clash_with_its_own_ids(self):
        rows = classification_rows("dev", 12, SECRET_LABELS)
        fields = {"name": "dev", "position": 0, "role": "public"}
        form = self.form(
            SimpleUploadedFile("dev.csv", csv_bytes(rows)), instance=self.dev, **fields
        )
        self.assertTrue(form.is_valid(), form.errors)
        self.assertEqual(form.save().num_rows, 12)

    def test_unknown_labels_of_a_hidden_split_are_counted_not_shown(self):
        rows = classification_rows("h", 4, ["zz-secret-a", "zz-secret-b"])
        form = self.form(SimpleUploadedFile("extra.csv", csv_bytes(rows)), role="hidden")
        self.assertFalse(form.is_valid())
        self.assertEqual(
            form.errors["data"],
            [
                "split extra: 4 rows have a label that is not one of columns.labels (values "
                "not shown: the split is hidden)"
            ],
        )

    def test_an_author_uploads_a_csv_split_on_the_task_page(self):
        self.client.force_login(self.author)
        data = task_form_data(self.task)
        data.update(
            {
                "splits-TOTAL_FORMS": 3,
                "splits-2-name": "extra",
                "splits-2-role": "public",
                "splits-2-reveal": "always",
                "splits-2-position": 2,
                "splits-2-data": SimpleUploadedFile(
                    "extra.csv", csv_bytes(classification_rows("new", 5, SECRET_LABELS))
                ),
            }
        )
        response = self.client.post(self.url(Task, "change", self.task.pk), data)
        self.assertEqual(response.status_code, 302)
        self.assertEqual(self.task.splits.get(name="extra").num_rows, 5)

    def test_a_bad_upload_on_the_task_page_shows_the_sentence_and_saves_nothing(self):
        self.client.force_login(self.author)
        data = task_form_data(self.task)
        data.update(
            {
                "splits-TOTAL_FORMS": 3,
                "splits-2-name": "extra",
                "splits-2-role": "public",
                "splits-2-reveal": "always",
                "splits-2-position": 2,
                "splits-2-data": SimpleUploadedFile("extra.csv", io.BytesIO(b"id\n1\n").read()),
            }
        )
        response = self.client.post(self.url(Task, "change", self.task.pk), data)
        self.assertContains(
            response, "split extra: input column &#x27;text&#x27; missing in split extra"
        )
        self.assertFalse(self.task.splits.filter(name="extra").exists())
