"""Token classification: a tag list of the wrong length is refused at upload, naming the row and
the lengths (of the inputs), never a gold tag."""

import json

from benchmarks.models import Split
from submissions.models import Submission
from submissions.services import SubmissionError, submission_create
from tests.base import PlatformTestCase, make_split, make_task, upload

ROWS = [
    {"id": "t-1", "tokens": ["Ada", "Lovelace", "wrote"], "tags": ["B-PER", "I-PER", "O"]},
    {"id": "t-2", "tokens": ["In", "Paris"], "tags": ["O", "B-LOC"]},
]


class TokenUploadTests(PlatformTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.ner = make_task(
            cls.benchmark,
            "ner",
            type="token-classification",
            input_columns=["tokens"],
            label_column="tags",
            metrics=[{"name": "seqeval"}],
            primary_metric="overall_f1",
        )
        make_split(cls.ner, "test", Split.Role.HIDDEN, ROWS)

    def submit(self, tags: dict[str, list[str]]):
        lines = "".join(json.dumps({"id": i, "prediction": t}) + "\n" for i, t in tags.items())
        return submission_create(
            benchmark=self.benchmark,
            participant=self.alice,
            uploaded_file=upload(lines.encode(), "ner.jsonl"),
            task=self.ner,
        )

    def test_a_tag_list_of_the_wrong_length_is_refused_at_upload(self):
        with self.assertRaises(SubmissionError) as caught:
            self.submit({"t-1": ["O", "O"], "t-2": ["O", "O"]})
        message = " ".join(caught.exception.messages)
        self.assertIn("t-1: 2 tags for 3 tokens", message)
        self.assertNotIn("PER", message)
        self.assertFalse(Submission.objects.exists())

    def test_tag_lists_of_the_right_length_are_accepted(self):
        submission = self.submit({"t-1": ["O", "O", "O"], "t-2": ["O", "B-LOC"]})
        self.assertEqual(submission.status, "queued")
