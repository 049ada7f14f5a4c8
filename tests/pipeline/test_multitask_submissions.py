"""A multi-task benchmark takes a zip with one `<task>.<ext>` file per task, or one file with
`task` named (docs/formats.md)."""

import io
import zipfile

from benchmarks.models import Split
from submissions import pipeline as services
from submissions.models import Evaluation
from submissions.services import SubmissionError, submission_create
from tests.base import (
    PlatformTestCase,
    gold_rows,
    make_split,
    make_task,
    prediction_csv,
    upload,
)

LABELS_TOPIC = ["billing", "delivery"]


def zipped(files: dict[str, bytes]) -> bytes:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return sink.getvalue()


class MultiTaskSubmissionTests(PlatformTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.topic = make_task(cls.benchmark, "topic", label_names=LABELS_TOPIC)
        cls.topic_rows = [
            {"id": f"tp-{i}", "text": f"about {i}", "label": LABELS_TOPIC[i % 2]} for i in range(6)
        ]
        make_split(cls.topic, "test", Split.Role.HIDDEN, cls.topic_rows)

    def submit(self, content: bytes, name: str, task=None):
        return submission_create(
            benchmark=self.benchmark,
            participant=self.alice,
            uploaded_file=upload(content, name),
            task=task,
        )

    def test_a_zip_with_a_file_per_task_is_scored_on_every_task(self):
        archive = zipped(
            {
                "sst.csv": prediction_csv(gold_rows(self.benchmark)),
                "topic.csv": prediction_csv(self.topic_rows, labels=LABELS_TOPIC),
            }
        )
        submission = self.submit(archive, "all.zip")
        services.submission_score(submission_id=submission.pk)
        submission.refresh_from_db()
        self.assertEqual(submission.status, "scored", submission.error)
        scored = set(
            Evaluation.objects.filter(submission=submission).values_list(
                "task__slug", "split__name"
            )
        )
        self.assertEqual(scored, {("sst", "dev"), ("sst", "test"), ("topic", "test")})

    def test_a_single_file_must_name_its_task(self):
        with self.assertRaises(SubmissionError) as caught:
            self.submit(prediction_csv(gold_rows(self.benchmark)), "sst.csv")
        self.assertIn("several tasks (sst, topic)", caught.exception.messages[0])
        submission = self.submit(prediction_csv(gold_rows(self.benchmark)), "x.csv", self.task)
        self.assertEqual(submission.task, self.task)

    def test_a_zip_entry_for_an_unknown_task_is_refused(self):
        with self.assertRaises(SubmissionError) as caught:
            self.submit(zipped({"nope.csv": b"id,prediction\n"}), "all.zip")
        self.assertIn("no task 'nope'", caught.exception.messages[0])

    def test_a_broken_zip_is_refused(self):
        with self.assertRaises(SubmissionError) as caught:
            self.submit(b"PK\x03\x04 not really", "all.zip")
        self.assertIn("not a valid zip", caught.exception.messages[0])

    def test_each_file_of_a_zip_is_checked_and_named_in_the_errors(self):
        archive = zipped(
            {
                "sst.csv": prediction_csv(gold_rows(self.benchmark)[:-2]),
                "topic.csv": prediction_csv(self.topic_rows, labels=LABELS_TOPIC),
            }
        )
        with self.assertRaises(SubmissionError) as caught:
            self.submit(archive, "all.zip")
        self.assertTrue(caught.exception.messages[0].startswith("sst.csv: 2 ids"))
