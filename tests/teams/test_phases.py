"""Phases: each with its own window, quotas, kinds and scored splits; submissions belong to a
phase and are checked against and scored on its splits only; boards per phase. The clock is
frozen (time-machine) at moments inside and outside each window. Single-phase bundles keep
working (every other test of the suite runs without phases)."""

from __future__ import annotations

import datetime as dt
import tempfile
import zipfile
from pathlib import Path
from unittest import mock

import time_machine
import yaml
from django.forms import inlineformset_factory
from django.test import TestCase

from benchmarks.admin.phases import PhaseFormSet
from benchmarks.bundles import BundleError
from benchmarks.models import Phase, Split
from benchmarks.services import benchmark_export, benchmark_import
from submissions import pipeline
from submissions.models import Submission
from submissions.services import SubmissionError, submission_create, submission_quota
from tests.base import gold_rows, make_benchmark, make_user, prediction_csv, upload

UTC = dt.UTC
JAN = dt.datetime(2026, 1, 1, tzinfo=UTC)
FEB = dt.datetime(2026, 2, 1, tzinfo=UTC)
FEB_15 = dt.datetime(2026, 2, 15, tzinfo=UTC)


def at(moment: dt.datetime):
    return time_machine.travel(moment, tick=False)


class PhaseRuleTests(TestCase):
    def setUp(self):
        publish = mock.patch("submissions.tasks.score_submission.apply_async")
        publish.start()
        self.addCleanup(publish.stop)
        self.alice = make_user("alice")
        self.benchmark = make_benchmark(public_rows=12, hidden_rows=8, max_per_day=5)
        task = self.benchmark.tasks.get()
        self.dev, self.test = task.splits.get(name="dev"), task.splits.get(name="test")
        self.development = Phase.objects.create(
            benchmark=self.benchmark, slug="development", opens_at=JAN, closes_at=FEB
        )
        self.development.splits.set([self.dev])
        self.final = Phase.objects.create(
            benchmark=self.benchmark,
            slug="final",
            position=1,
            opens_at=FEB,
            closes_at=FEB_15,
            max_total=1,
        )
        self.final.splits.set([self.test])
        rows = gold_rows(self.benchmark)
        self.dev_file = prediction_csv([r for r in rows if r["id"].startswith("dev")])
        self.test_file = prediction_csv([r for r in rows if r["id"].startswith("test")])
        self.both_files = prediction_csv(rows)

    def submit(self, content: bytes, **kwargs) -> Submission:
        return submission_create(
            benchmark=self.benchmark,
            participant=self.alice,
            uploaded_file=upload(content),
            **kwargs,
        )

    def test_in_the_development_window_a_file_covers_the_phases_splits_only(self):
        with at(dt.datetime(2026, 1, 15, 12, tzinfo=UTC)):
            submission = self.submit(self.dev_file)
            self.assertEqual(submission.phase, self.development)
            with self.assertRaises(SubmissionError) as refused:
                self.submit(self.both_files)  # the hidden split's ids are not this phase's
            self.assertIn("8 ids in the file are not ids", " ".join(refused.exception.messages))

    def test_scoring_uses_the_phases_splits_only(self):
        with at(dt.datetime(2026, 1, 15, 12, tzinfo=UTC)):
            submission = self.submit(self.dev_file)
            pipeline.submission_score(submission_id=submission.pk)
        submission.refresh_from_db()
        self.assertEqual(submission.status, Submission.Status.SCORED, submission.error)
        self.assertEqual([e.split for e in submission.evaluations.all()], [self.dev])
        self.assertEqual(submission.evaluations.get().value("accuracy"), 1.0)

    def test_a_phase_not_yet_open_or_closed_is_refused_with_its_time(self):
        with at(dt.datetime(2026, 1, 15, tzinfo=UTC)):
            with self.assertRaises(SubmissionError) as early:
                self.submit(self.test_file, phase="final")
            self.assertEqual(early.exception.status_code, 403)
            self.assertIn("'final' opens at 2026-02-01 00:00 UTC", str(early.exception))
        with at(dt.datetime(2026, 2, 3, tzinfo=UTC)):
            with self.assertRaises(SubmissionError) as late:
                self.submit(self.dev_file, phase="development")
            self.assertIn("'development' closed at 2026-02-01 00:00 UTC", str(late.exception))
        with at(dt.datetime(2025, 12, 1, tzinfo=UTC)):
            with self.assertRaises(SubmissionError) as none_open:
                self.submit(self.dev_file)
            self.assertIn("'development' opens at 2026-01-01", str(none_open.exception))
        with (
            at(dt.datetime(2026, 3, 1, tzinfo=UTC)),
            self.assertRaisesMessage(SubmissionError, "Every phase of this benchmark"),
        ):
            self.submit(self.test_file)

    def test_the_window_edges(self):
        with at(FEB - dt.timedelta(seconds=1)):
            self.assertEqual(self.submit(self.dev_file).phase, self.development)
        with at(FEB):  # closes_at is exclusive, opens_at inclusive
            self.assertEqual(self.submit(self.test_file).phase, self.final)

    def test_each_phase_has_its_own_quota(self):
        with at(dt.datetime(2026, 1, 31, tzinfo=UTC)):
            for _ in range(3):
                self.submit(self.dev_file)
        with at(dt.datetime(2026, 2, 2, tzinfo=UTC)):
            quota = submission_quota(
                benchmark=self.benchmark, participant=self.alice, phase=self.final
            )
            self.assertEqual((quota.total, quota.today), (1, 5))  # the development three: elsewhere
            self.submit(self.test_file)
            with self.assertRaises(SubmissionError) as refused:
                self.submit(self.test_file)
            self.assertEqual(refused.exception.status_code, 429)
            self.assertIn("all 1 submissions allowed in the phase 'final'", str(refused.exception))

    def test_a_phase_accepts_its_own_kinds(self):
        self.final.accepted_kinds = ["model"]
        self.final.save()
        with (
            at(dt.datetime(2026, 2, 2, tzinfo=UTC)),
            self.assertRaisesMessage(
                SubmissionError, "The phase 'final' does not accept predictions submissions"
            ),
        ):
            self.submit(self.test_file)

    def test_an_unknown_phase_is_named(self):
        with (
            at(dt.datetime(2026, 1, 15, tzinfo=UTC)),
            self.assertRaisesMessage(SubmissionError, "No phase 'qualifying'"),
        ):
            self.submit(self.dev_file, phase="qualifying")

    def test_boards_are_per_phase_and_the_form_says_which_phase(self):
        with at(dt.datetime(2026, 1, 15, tzinfo=UTC)):
            development = self.submit(self.dev_file)
            pipeline.submission_score(submission_id=development.pk)
        with at(dt.datetime(2026, 2, 3, tzinfo=UTC)):
            final = self.submit(self.test_file)
            pipeline.submission_score(submission_id=final.pk)
            dev_board = self.client.get(
                "/api/v1/benchmarks/sentiment/leaderboard/?split=dev"
            ).json()
            test_board = self.client.get(
                "/api/v1/benchmarks/sentiment/leaderboard/?split=test"
            ).json()
            self.assertEqual([r["submission"] for r in dev_board["rows"]], [development.pk])
            self.assertEqual([r["submission"] for r in test_board["rows"]], [final.pk])
            detail = self.client.get("/b/sentiment/")
            self.assertContains(detail, "scores sst/test")
            self.assertContains(detail, '<span class="badge badge-ok">open</span>', count=1)
            board = self.client.get("/b/sentiment/leaderboard/?split=dev")
            self.assertContains(board, "development phase")
            self.assertContains(board, "final phase")
            self.client.force_login(self.alice)
            page = self.client.get("/b/sentiment/submit/")
            self.assertContains(page, "You submit to the phase <strong>final</strong>")
            self.assertContains(page, "Your quota")
        self.assertEqual(
            self.client.get(f"/api/v1/submissions/{final.pk}/").json()["phase"], "final"
        )


BUNDLE = """
slug: phased
title: Phased
phases:
  - slug: development
    title: Development
    closes_at: 2026-02-01T00:00:00Z
    splits: [sst/dev]
  - slug: final
    opens_at: 2026-02-01T00:00:00Z
    max_total: 2
    kinds: [predictions]
    splits: [sst/test]
submission_policy:
  final_selection: 2
tasks:
  - slug: sst
    type: text-classification
    data:
      splits:
        dev: {path: dev.csv, role: public}
        test: {path: test.csv, role: hidden}
    columns: {id: id, inputs: [text], label: label, labels: [neg, pos]}
    metrics: [{name: accuracy}]
    primary_metric: accuracy
"""


def write_bundle(folder, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "benchmark.yaml").write_text(text)
    for name in ("dev", "test"):
        lines = ["id,text,label"] + [
            f"{name}-{i},text {i},{'pos' if i % 2 else 'neg'}" for i in range(4)
        ]
        (folder / f"{name}.csv").write_text("\n".join(lines) + "\n")


class PhaseBundleTests(TestCase):
    def setUp(self):

        self.folder = Path(tempfile.mkdtemp())

    def test_a_bundle_defines_phases_and_exports_them_back(self):
        write_bundle(self.folder / "a", BUNDLE)
        benchmark = benchmark_import(source=self.folder / "a")
        phases = list(benchmark.phases.all())
        self.assertEqual([p.slug for p in phases], ["development", "final"])
        self.assertEqual([s.name for s in phases[0].splits.all()], ["dev"])
        self.assertEqual(phases[1].max_total, 2)
        self.assertEqual(phases[1].opens_at, FEB)
        self.assertEqual(benchmark.max_final, 2)
        out = self.folder / "export.zip"
        benchmark_export(benchmark=benchmark, out=out)

        with zipfile.ZipFile(out) as archive:
            spec = yaml.safe_load(archive.read("benchmark.yaml"))
        self.assertEqual(
            [(p["slug"], p["splits"]) for p in spec["phases"]],
            [("development", ["sst/dev"]), ("final", ["sst/test"])],
        )
        self.assertEqual(spec["submission_policy"]["final_selection"], 2)

    def test_every_phase_problem_is_named_with_its_key_path(self):
        broken = BUNDLE.replace("splits: [sst/test]", "splits: [sst/dev, sst/nope]").replace(
            "    splits: [sst/dev]\n", ""
        )
        write_bundle(self.folder / "b", broken)
        with self.assertRaises(BundleError) as refused:
            benchmark_import(source=self.folder / "b")
        text = "\n".join(refused.exception.messages)
        self.assertIn("phases[0].splits: with several phases, each names the splits", text)
        self.assertIn("phases[1].splits[1]: expected a scored split of this bundle", text)
        self.assertNotIn("Phased", [p.benchmark.title for p in Phase.objects.all()])

    def test_a_split_in_two_phases_is_refused(self):
        write_bundle(
            self.folder / "c", BUNDLE.replace("splits: [sst/test]", "splits: [sst/test, sst/dev]")
        )
        with self.assertRaisesMessage(BundleError, "is scored in the phase 'development' already"):
            benchmark_import(source=self.folder / "c")

    def test_a_bundle_without_phases_has_none(self):
        text = (
            BUNDLE.split("phases:")[0]
            + "submission_policy:"
            + BUNDLE.split("submission_policy:")[1]
        )
        write_bundle(self.folder / "d", text)
        benchmark = benchmark_import(source=self.folder / "d")
        self.assertEqual(benchmark.phases.count(), 0)
        self.assertEqual(Split.objects.filter(task__benchmark=benchmark).count(), 2)


class PhaseAdminTests(TestCase):
    """The admin's phase inline checks the bundle's rule before anything is saved."""

    def formset(self, benchmark, phases: list[dict], initial: int = 0):

        FormSet = inlineformset_factory(
            type(benchmark),
            Phase,
            formset=PhaseFormSet,
            fields=["slug", "title", "position", "opens_at", "closes_at", "splits"],
            extra=0,
            can_delete=True,
        )
        data = {
            "phases-TOTAL_FORMS": str(len(phases)),
            "phases-INITIAL_FORMS": str(initial),
            "phases-MIN_NUM_FORMS": "0",
            "phases-MAX_NUM_FORMS": "1000",
        }
        for i, phase in enumerate(phases):
            for key, value in phase.items():
                data[f"phases-{i}-{key}"] = value
        return FormSet(data, instance=benchmark, prefix="phases")

    def test_a_split_in_two_phases_and_a_phase_without_splits_are_refused(self):
        benchmark = make_benchmark()
        dev = benchmark.tasks.get().splits.get(name="dev")
        formset = self.formset(
            benchmark,
            [
                {"slug": "development", "position": "0", "splits": [str(dev.pk)]},
                {"slug": "final", "position": "1", "splits": [str(dev.pk)]},
                {"slug": "extra", "position": "2"},
            ],
        )
        self.assertFalse(formset.is_valid())
        errors = [str(form.errors) for form in formset.forms]
        self.assertIn("is scored in the phase &#x27;development&#x27; already", errors[1])
        self.assertIn("each names the splits it scores", errors[2])

    def test_disjoint_phases_are_saved(self):
        benchmark = make_benchmark()
        dev, test = benchmark.tasks.get().splits.order_by("position")
        formset = self.formset(
            benchmark,
            [
                {"slug": "development", "position": "0", "splits": [str(dev.pk)]},
                {"slug": "final", "position": "1", "splits": [str(test.pk)]},
            ],
        )
        self.assertTrue(formset.is_valid(), [f.errors for f in formset.forms])
        formset.save()
        self.assertEqual(
            [(p.slug, [s.name for s in p.splits.all()]) for p in benchmark.phases.all()],
            [("development", ["dev"]), ("final", ["test"])],
        )

    def test_a_phase_with_submissions_is_not_deleted(self):
        benchmark = make_benchmark()
        dev = benchmark.tasks.get().splits.get(name="dev")
        phase = Phase.objects.create(benchmark=benchmark, slug="development")
        phase.splits.set([dev])
        Submission.objects.create(benchmark=benchmark, participant=make_user("ann"), phase=phase)
        fields = {"id": str(phase.pk), "slug": "development", "position": "0", "DELETE": "on"}
        formset = self.formset(benchmark, [fields], initial=1)
        self.assertFalse(formset.is_valid())
        self.assertIn("has 1 submission: it cannot be deleted", str(formset.non_form_errors()))
        # Deleting the benchmark takes its phases and submissions with it.
        benchmark.delete()
        self.assertFalse(Submission.objects.exists())
