"""A split's slice cells are measured by the first scoring and stored beside the split; a worker
that has not measured them (a new process) reads them and scores the same breakdown; a file
that cannot be read costs a measurement, not the scoring."""

from __future__ import annotations

from unittest import mock

from django.core.files.base import ContentFile

import scoring.evaluation as evaluation
from submissions import pipeline, uploads
from submissions.models import Evaluation
from submissions.services import submission_create
from submissions.split_cells import cells_name
from tests.base import PlatformTestCase, gold_rows, prediction_csv, upload


def new_worker():
    """Forget what this process keeps: the split tables and, with them, their cells."""
    uploads._GOLD_CACHE.clear()
    evaluation._PARTITIONS.clear()


class SplitCellsTests(PlatformTestCase):
    def setUp(self):
        # Split files are named by content, and so are their cells: an earlier run's stay.
        spec = self.task.spec()
        for split in (self.dev, self.test_split):
            split.data.storage.delete(cells_name(split, spec))
        self.addCleanup(new_worker)

    def score(self, user, wrong=frozenset()):
        content = prediction_csv(gold_rows(self.benchmark), wrong=set(wrong))
        submission = submission_create(
            benchmark=self.benchmark, participant=user, uploaded_file=upload(content)
        )
        pipeline.submission_score(submission_id=submission.pk)
        return Evaluation.objects.get(submission=submission, split=self.test_split)

    def measured(self):
        """Calls of the automatic slices' measurement, counted."""
        return mock.patch.object(
            evaluation, "automatic_partitions", wraps=evaluation.automatic_partitions
        )

    def test_a_new_worker_reads_the_cells_the_first_scoring_stored(self):
        new_worker()
        with self.measured() as first:
            alice = self.score(self.alice, wrong={"test-001"})
        self.assertEqual(first.call_count, 2)  # dev and test, measured once each
        spec = self.task.spec()
        self.assertTrue(self.test_split.data.storage.exists(cells_name(self.test_split, spec)))
        new_worker()
        with self.measured() as second:
            bob = self.score(self.bob, wrong={"test-001"})
        self.assertEqual(second.call_count, 0)
        self.assertEqual(bob.slices, alice.slices)  # the same predictions, the same breakdown

    def test_an_unreadable_file_is_measured_and_stored_again(self):
        new_worker()
        alice = self.score(self.alice)
        storage = self.test_split.data.storage
        name = cells_name(self.test_split, self.task.spec())
        storage.delete(name)
        storage.save(name, ContentFile(b"not an npz"))
        new_worker()
        with self.measured() as again:
            bob = self.score(self.bob)
        self.assertGreaterEqual(again.call_count, 1)
        self.assertEqual(bob.slices, alice.slices)
        with storage.open(name, "rb") as f:  # stored afresh: the next worker reads it
            self.assertTrue(evaluation.partitions_load(f.read()))

    def test_publication_stores_every_scored_splits_cells_before_any_scoring(self):
        from benchmarks.services import benchmark_published_hooks_run

        spec = self.task.spec()
        with self.captureOnCommitCallbacks(execute=True):
            benchmark_published_hooks_run(benchmark=self.benchmark)
        for split in (self.dev, self.test_split):
            self.assertTrue(split.data.storage.exists(cells_name(split, spec)), split.name)
        new_worker()
        with self.measured() as first:
            self.score(self.alice)
        self.assertEqual(first.call_count, 0)  # not even the first submission measures them

    def test_the_stored_cells_are_never_served(self):
        # They say which cell of the gold label each hidden row is in: private like the split.
        new_worker()
        self.score(self.alice)
        name = cells_name(self.test_split, self.task.spec())
        self.assertTrue(self.test_split.data.storage.exists(name))
        for prefix in ("/", "/files/", "/media/", "/static/"):
            self.assertEqual(self.client.get(prefix + name).status_code, 404, prefix)
