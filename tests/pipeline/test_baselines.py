"""Automatic baselines: computed at import, submitted as baseline submissions, scored like any
other, never learning from hidden labels."""

from pathlib import Path

import pyarrow as pa
from django.conf import settings

from scoring import baselines
from submissions import baselines as baselines_service
from submissions import pipeline as services
from submissions.leaderboards import leaderboard_build
from submissions.models import Evaluation, Submission
from tests.base import PlatformTestCase

DEMO = Path(settings.BASE_DIR) / "demo" / "sentiment-mini"


class BaselineFunctionTests(PlatformTestCase):
    spec = {
        "type": "text-classification",
        "columns": {"id": "id", "inputs": ["text"], "label": "label", "labels": ["a", "b", "c"]},
    }

    def test_majority_class_breaks_ties_by_label_order(self):
        learn = pa.table({"id": ["1", "2", "3", "4"], "text": ["x"] * 4, "label": list("cbcb")})
        inputs = pa.table({"id": ["7", "8"], "text": ["y", "z"]})
        table = baselines.majority_class(self.spec, learn, inputs)
        self.assertEqual(table.column("prediction").to_pylist(), ["b", "b"])
        self.assertEqual(table.column("id").to_pylist(), ["7", "8"])

    def test_training_mean_predicts_the_mean_of_the_learning_labels(self):
        spec = {"type": "regression", "columns": {"id": "id", "inputs": ["x"], "label": "y"}}
        learn = pa.table({"id": ["1", "2"], "x": [0.0, 1.0], "y": [1.0, 4.0]})
        inputs = pa.table({"id": ["3"], "x": [5.0]})
        self.assertEqual(
            baselines.training_mean(spec, learn, inputs).column("prediction").to_pylist(), [2.5]
        )

    def test_lead_sentences_keeps_the_first_three(self):
        spec = {"type": "text-generation", "columns": {"id": "id", "inputs": ["source"]}}
        inputs = pa.table({"id": ["1"], "source": ["One. Two! Three? Four."]})
        self.assertEqual(
            baselines.lead_sentences(spec, None, inputs).column("prediction").to_pylist(),
            ["One. Two! Three?"],
        )

    def test_a_task_with_a_train_split_gets_a_learned_baseline(self):
        names = baselines.baselines_for(self.spec, has_train=True, learn_rows=10)
        self.assertEqual(list(names), ["Majority class", "TF-IDF + logistic regression"])
        self.assertEqual(
            list(baselines.baselines_for(self.spec, has_train=False, learn_rows=10)),
            ["Majority class"],
        )


class BaselinesCreateTests(PlatformTestCase):
    def test_the_demo_import_submits_baselines_that_rank_as_expected(self):
        with self.captureOnCommitCallbacks(execute=True):
            benchmark = baselines_service.benchmark_import_with_baselines(source=DEMO)
        submissions = Submission.objects.filter(benchmark=benchmark, is_baseline=True)
        self.assertEqual(
            sorted(submissions.values_list("name", flat=True)),
            ["Majority class", "TF-IDF + logistic regression"],
        )
        for submission in submissions:
            services.submission_score(submission_id=submission.pk)
        task = benchmark.tasks.get()
        board = leaderboard_build(task=task, split=task.splits.get(name="test"))
        self.assertEqual(
            [row.submission.name for row in board.rows],
            ["TF-IDF + logistic regression", "Majority class"],
        )
        self.assertTrue(all(row.submission.is_baseline for row in board.rows))
        majority = Evaluation.objects.get(
            submission__name="Majority class", split__name="test"
        ).metrics["accuracy"]["value"]
        learned = board.rows[0].value
        self.assertGreater(learned, majority)

    def test_baselines_learn_from_public_splits_when_there_is_no_train_split(self):
        created = baselines_service.baselines_create(task=self.task)
        self.assertEqual([s.name for s in created], ["Majority class"])

    def test_reimporting_replaces_the_baselines(self):
        baselines_service.baselines_create(task=self.task)
        baselines_service.baselines_create(task=self.task)
        self.assertEqual(Submission.objects.filter(is_baseline=True).count(), 1)
