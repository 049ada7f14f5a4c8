"""Comparisons of submissions (`/b/<slug>/compare/`, `/api/v1/benchmarks/<slug>/compare/`):
metrics side by side with deltas and paired-bootstrap intervals, slice cells shown for every
submission, per-example wins and disagreements on public splits only; and refusals that name
the submission at fault. On a hidden split nothing per example, no suppressed cell and no gold
reaches the answer."""

from __future__ import annotations

import importlib.util
from datetime import timedelta
from types import SimpleNamespace
from unittest import mock

import numpy as np
import pyarrow.parquet as pq
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from benchmarks.models import Split
from submissions import analysis
from submissions.models import Evaluation, Submission
from tests.base import (
    SECRET_LABELS,
    PlatformTestCase,
    assert_no_hidden_labels,
    classification_rows,
    hidden_pairs,
    make_benchmark,
    make_scored_submission,
    make_split,
)
from tests.examples_artifacts import attach_examples, classification_examples

NEG, POS = SECRET_LABELS
SUPPRESSED_VALUE = 0.4242  # a hidden cell's stored value: suppressed, so never shown


def _fake_paired_bootstrap(task_spec, gold, predictions, *, resamples=1000, seed=0):
    labels = np.asarray(gold[task_spec["columns"]["label"]].to_pylist())
    values = [float(np.mean(np.asarray(p.to_pylist()) == labels)) for p in predictions]
    deltas = [None] + [v - values[0] for v in values[1:]]
    return {
        "accuracy": {
            "values": values,
            "deltas": deltas,
            "ci": [None] + [[d - 0.1, d + 0.1] for d in deltas[1:]],
            "p_value": [None] + [0.5 for _ in deltas[1:]],
        }
    }


def _fake_win_tie_loss(score_a, score_b, *, lower_is_better):
    a, b = np.asarray(score_a), np.asarray(score_b)
    better = (b < a) if lower_is_better else (b > a)
    worse = (b > a) if lower_is_better else (b < a)
    return {
        "wins": int(better.sum()),
        "ties": int((a == b).sum()),
        "losses": int(worse.sum()),
    }


# scoring/compare.py comes from another change; until it is there, the view's contract is
# tested against this stand-in with the same signatures.
HAS_COMPARE = importlib.util.find_spec("scoring.compare") is not None
FAKE = SimpleNamespace(
    paired_bootstrap=_fake_paired_bootstrap, win_tie_loss=_fake_win_tie_loss
)  # fmt: skip


def read_rows(split: Split) -> list[dict]:
    with split.data.open("rb") as f:
        return pq.read_table(f).to_pylist()


def slices(food: float, service: float | None) -> list[dict]:
    cells = [{"slice": "topic", "cell": "food", "n": 5, "metrics": {"accuracy": {"value": food}}}]
    if service is not None:
        cells.append(
            {
                "slice": "topic",
                "cell": "service",
                "n": 5,
                "metrics": {"accuracy": {"value": service}},
            }
        )
    return cells


@override_settings(THROTTLE_RATES={"anon": None, "user": None, "uploads": None})
class CompareTests(PlatformTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        make_split(cls.task, "train", Split.Role.TRAIN, classification_rows("train", 4, [NEG, POS]))
        dev_rows, test_rows = read_rows(cls.dev), read_rows(cls.test_split)

        def submission(user, dev_wrong, test_wrong, dev_slices, **fields):
            s = make_scored_submission(
                cls.benchmark,
                user,
                {
                    "dev": {"accuracy": 1 - len(dev_wrong) / 10},
                    "test": {"accuracy": 1 - len(test_wrong) / 10},
                },
                **fields,
            )
            dev = s.evaluations.get(split=cls.dev)
            dev.slices = dev_slices
            dev.save()
            attach_examples(dev, classification_examples(dev_rows, dev_wrong, [NEG, POS]))
            test = s.evaluations.get(split=cls.test_split)
            test.slices = slices(SUPPRESSED_VALUE, SUPPRESSED_VALUE)
            test.save()
            attach_examples(test, classification_examples(test_rows, test_wrong, [NEG, POS]))
            return s

        cls.a = submission(
            cls.alice, {"dev-001", "dev-004", "dev-007"}, {"test-002"}, slices(0.8, 0.6)
        )
        cls.b = submission(
            cls.bob, {"dev-001", "dev-002"}, {"test-003", "test-004"}, slices(0.9, None)
        )
        cls.c = submission(cls.alice, set(), set(), slices(1.0, 1.0), name="perfect")

    def setUp(self):
        analysis.clear_caches()
        if not HAS_COMPARE:
            patcher = mock.patch.object(analysis, "_bootstrap_module", return_value=FAKE)
            patcher.start()
            self.addCleanup(patcher.stop)
        self.client.force_login(self.alice)

    def api(self, *ids, **params):
        if ids:
            params["submissions"] = ",".join(str(i) for i in ids)
        return self.client.get(reverse("api-benchmark-compare", args=["sentiment"]), params)

    def page(self, *ids, **params):
        params["s"] = [str(i) for i in ids]
        return self.client.get(reverse("benchmark_compare", args=["sentiment"]), params)

    # A public split --------------------------------------------------------------------------

    def test_metrics_side_by_side_with_deltas_and_bootstrap(self):
        body = self.api(self.a.pk, self.b.pk, split="dev").json()
        self.assertEqual((body["task"], body["split"], body["role"]), ("sst", "dev", "public"))
        self.assertEqual([s["id"] for s in body["submissions"]], [self.a.pk, self.b.pk])
        accuracy = next(m for m in body["metrics"] if m["key"] == "accuracy")
        self.assertEqual(accuracy["values"], [0.7, 0.8])
        self.assertIsNone(accuracy["deltas"][0])
        self.assertAlmostEqual(accuracy["deltas"][1], 0.1)
        self.assertTrue(body["bootstrap"]["available"], body["bootstrap"])
        self.assertEqual(body["bootstrap"]["resamples"], 1000)
        self.assertIsNone(accuracy["ci"][0])
        self.assertIsNone(accuracy["p_value"][0])
        lo, hi = accuracy["ci"][1]
        self.assertLessEqual(lo, hi)
        self.assertTrue(0.0 <= accuracy["p_value"][1] <= 1.0)

    def test_slice_cells_shown_for_every_submission_only(self):
        body = self.api(self.a.pk, self.b.pk, split="dev").json()
        self.assertEqual(len(body["slices"]), 1)  # b has no "service" cell
        food = body["slices"][0]
        self.assertEqual((food["slice"], food["cell"], food["n"]), ("topic", "food", 5))
        self.assertEqual(food["values"], [0.8, 0.9])
        self.assertAlmostEqual(food["deltas"][1], 0.1)
        both = self.api(self.a.pk, self.c.pk, split="dev").json()
        self.assertEqual([c["cell"] for c in both["slices"]], ["food", "service"])

    def test_wins_ties_losses_and_disagreements_on_a_public_split(self):
        body = self.api(self.a.pk, self.b.pk, split="dev").json()
        per = body["per_example"]
        self.assertTrue(per["available"])
        (pair,) = per["win_tie_loss"]
        self.assertEqual((pair["a"], pair["b"]), (self.a.pk, self.b.pk))
        self.assertEqual((pair["wins"], pair["ties"], pair["losses"]), (2, 7, 1))
        disagreements = per["disagreements"]
        self.assertEqual(disagreements["count"], 3)
        self.assertIsNone(disagreements["next"])
        rows = disagreements["rows"]
        self.assertEqual([r["id"] for r in rows], ["dev-002", "dev-004", "dev-007"])
        row = rows[0]
        self.assertEqual(row["inputs"], {"text": "sample text number 2 bad"})
        self.assertEqual(row["gold"], NEG)
        self.assertEqual(
            row["predictions"],
            [
                {"submission": self.a.pk, "prediction": NEG, "score": 1.0, "correct": True},
                {"submission": self.b.pk, "prediction": POS, "score": 0.0, "correct": False},
            ],
        )
        three = self.api(self.a.pk, self.b.pk, self.c.pk, split="dev").json()["per_example"]
        self.assertEqual(len(three["win_tie_loss"]), 3)
        self.assertEqual(three["disagreements"]["count"], 4)  # dev-001 too: c got it right

    def test_the_page_shows_the_comparison_and_the_picker(self):
        response = self.page(self.a.pk, self.b.pk, split="dev")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "Δ")
        self.assertContains(response, "+0.100")
        self.assertContains(response, "Where they disagree")
        self.assertContains(response, "dev-004")
        self.assertContains(response, "Wins, ties and losses")
        self.assertContains(response, f'name="s" value="{self.a.pk}" id="pick-{self.a.pk}" checked')
        self.assertContains(response, f'name="s" value="{self.b.pk}" id="pick-{self.b.pk}" checked')
        picker = self.client.get(reverse("benchmark_compare", args=["sentiment"]))
        self.assertEqual(picker.status_code, 200)
        self.assertContains(picker, 'type="checkbox" name="s"')
        self.assertNotContains(picker, "Where they disagree")

    def test_the_bootstrap_is_cached(self):
        module = analysis._bootstrap_module()
        calls = []

        def counting(*args, **kwargs):
            calls.append(1)
            return module.paired_bootstrap(*args, **kwargs)

        counted = SimpleNamespace(paired_bootstrap=counting, win_tie_loss=module.win_tie_loss)
        with mock.patch.object(analysis, "_bootstrap_module", return_value=counted):
            first = self.api(self.a.pk, self.b.pk, split="dev").json()
            second = self.api(self.a.pk, self.b.pk, split="dev").json()
        self.assertEqual(len(calls), 1)
        self.assertEqual(first["metrics"], second["metrics"])

    def test_evaluations_without_per_example_results_compare_without_intervals(self):
        Evaluation.objects.filter(submission=self.b).update(examples="")
        body = self.api(self.a.pk, self.b.pk, split="dev").json()
        self.assertFalse(body["bootstrap"]["available"])
        self.assertIn(f"#{self.b.pk}", body["bootstrap"]["reason"])
        self.assertEqual(body["metrics"][0]["ci"], [None, None])
        self.assertFalse(body["per_example"]["available"])

    # A hidden split: aggregates only ---------------------------------------------------------

    def test_a_hidden_split_shows_no_examples_no_wins_no_suppressed_cells_no_gold(self):
        pairs = hidden_pairs(self.benchmark)
        api = self.api(self.a.pk, self.b.pk, split="test")
        self.assertEqual(api.status_code, 200, api.content)
        body = api.json()
        self.assertEqual(body["role"], "hidden")
        self.assertEqual(body["slices"], [])
        self.assertEqual(body["suppressed_cells"], 2)
        self.assertEqual(set(body["per_example"]), {"available", "reason"})
        self.assertFalse(body["per_example"]["available"])
        accuracy = next(m for m in body["metrics"] if m["key"] == "accuracy")
        self.assertEqual(accuracy["values"], [0.9, 0.8])
        page = self.page(self.a.pk, self.b.pk, split="test")
        self.assertEqual(page.status_code, 200)
        self.assertContains(page, "no per-example comparison")
        for response in (api, page):
            content = response.content.decode()
            assert_no_hidden_labels(self, content, pairs)
            self.assertNotIn("test-0", content)
            for label in SECRET_LABELS:
                self.assertNotIn(label, content)
            self.assertNotIn("0.424", content)
            self.assertNotIn('"win_tie_loss"', content)
            self.assertNotIn('"disagreements"', content)
            self.assertNotIn('"rows"', content)
            self.assertNotIn("Where they disagree", content)

    # Refusals ----------------------------------------------------------------------------------

    def test_another_participants_private_submission_is_a_404_naming_it(self):
        Submission.objects.filter(pk=self.b.pk).update(is_private=True)
        errors = self.assert_errors(self.api(self.a.pk, self.b.pk, split="dev"), 404)
        self.assertEqual(
            errors, [f"Submission #{self.b.pk} does not exist or is not visible to you."]
        )
        page = self.page(self.a.pk, self.b.pk, split="dev")
        self.assertContains(page, f"Submission #{self.b.pk} does not exist", status_code=404)
        self.assertNotContains(page, "Where they disagree", status_code=404)
        self.client.force_login(self.bob)  # the owner may
        self.assertEqual(self.api(self.a.pk, self.b.pk, split="dev").status_code, 200)
        self.client.logout()
        self.assert_errors(self.api(self.a.pk, self.b.pk, split="dev"), 404)

    def test_a_withheld_split_is_refused_until_the_close(self):
        final = make_benchmark("final", closes_at=timezone.now() + timedelta(days=2))
        final.maintainers.set([self.author])
        task = final.tasks.get()
        task.splits.filter(name="test").update(reveal=Split.Reveal.AFTER_CLOSE)
        scores = {"dev": {"accuracy": 0.5}, "test": {"accuracy": 0.5}}
        x = make_scored_submission(final, self.alice, scores)
        y = make_scored_submission(final, self.bob, scores)
        url = reverse("api-benchmark-compare", args=["final"])
        params = {"split": "test", "submissions": f"{x.pk},{y.pk}"}
        errors = self.assert_errors(self.client.get(url, params), 403)
        self.assertIn("revealed when the benchmark closes", errors[0])
        page = self.client.get(reverse("benchmark_compare", args=["final"]), {"split": "test"})
        self.assertContains(page, "revealed when the benchmark closes")
        self.assertNotContains(page, 'name="s"')
        self.client.force_login(self.author)
        self.assertEqual(self.client.get(url, params).status_code, 200)

    def test_bad_requests_name_what_is_wrong(self):
        other = make_benchmark("elsewhere")
        foreign = make_scored_submission(other, self.alice, {"dev": {"accuracy": 0.5}})
        no_test = make_scored_submission(self.benchmark, self.alice, {"dev": {"accuracy": 0.5}})
        cases = [
            ((self.a.pk,), {}, 400, "2 to 4"),
            ((self.a.pk, self.a.pk), {}, 400, "1 given"),
            ((1, 2, 3, 4, 5), {}, 400, "5 given"),
            ((), {"submissions": "12,abc"}, 400, "'abc'"),
            ((), {}, 400, "0 given"),
            ((self.a.pk, foreign.pk), {}, 404, f"#{foreign.pk} is not a submission to this"),
            ((self.a.pk, no_test.pk), {"split": "test"}, 404, f"#{no_test.pk} has no evaluation"),
            ((self.a.pk, 999999), {}, 404, "#999999 does not exist"),
            ((self.a.pk, self.b.pk), {"split": "train"}, 404, "not scored"),
        ]
        for ids, params, status, text in cases:
            with self.subTest(ids=ids, params=params):
                errors = self.assert_errors(self.api(*ids, **params), status)
                self.assertIn(text, errors[0])
        self.assertEqual(self.api(self.a.pk, self.b.pk, task="nope").status_code, 404)
        self.assertEqual(self.api(self.a.pk, self.b.pk, split="nope").status_code, 404)
        self.assertContains(self.page(self.a.pk), "2 to 4", status_code=400)
