"""The best models for a task type across the public benchmarks: `/tasks/`, `/tasks/<type>/best/`,
`GET /api/v1/task-types/` and `GET /api/v1/task-types/<type>/best/?limit=`
(submissions/task_types.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.urls import reverse
from django.utils import timezone

from benchmarks.models import Benchmark, Split
from submissions import task_types
from submissions.leaderboards import leaderboard_build
from submissions.models import Evaluation, Submission
from tests.base import PlatformTestCase, make_scored_submission, make_split, make_task, make_user
from tests.e2e.test_browser_participant_flow import chromium_launched

API = "/api/v1/task-types/{}/best/"
SHA_A, SHA_B, SHA_G = "a" * 40, "b" * 40, "ab" * 20
ARCHIVE_C = "sha256:" + "c" * 64
EFFICIENCY = {
    "rows_per_second": 120.5,
    "latency_ms_p50": 8.25,
    "latency_ms_p95": 12.0,
    "peak_rss_mb": 900.0,
    "peak_gpu_mb": None,
    "parameters": 66_000_000,
    "load_seconds": 2.0,
    "device": "cpu",
    "batch_size": 8,
}
QA_ROWS = [{"id": "q-1", "question": "Who?", "context": "Ann.", "answers": "Ann"}]
REGRESSION_ROWS = [{"id": "r-1", "text": "x", "label": 1.0}]


def qa_benchmark(slug: str, primary: str = "f1", *, hidden: dict | None = None, **fields):
    """A question-answering benchmark: one task with a public `dev` split, and a hidden `test`
    split when `hidden` gives its fields."""
    benchmark = Benchmark.objects.create(
        slug=slug, title=slug.title(), accepted_kinds=["predictions", "model"], **fields
    )
    task = make_task(
        benchmark,
        "reading",
        title="Reading",
        type="question-answering",
        input_columns=["question", "context"],
        label_column="answers",
        metrics=[{"name": "squad"}],
        primary_metric=primary,
    )
    make_split(task, "dev", Split.Role.PUBLIC, QA_ROWS)
    if hidden is not None:
        make_split(task, "test", Split.Role.HIDDEN, QA_ROWS, **hidden)
    return benchmark


def regression_benchmark(slug: str, primary: str):
    benchmark = Benchmark.objects.create(slug=slug, title=slug.title())
    task = make_task(
        benchmark,
        "score",
        type="regression",
        label_column="label",
        metrics=[{"name": "mse"}, {"name": "pearson"}],
        primary_metric=primary,
    )
    make_split(task, "dev", Split.Role.PUBLIC, REGRESSION_ROWS)
    return benchmark


def model_run(
    benchmark,
    participant,
    values: dict[str, float | None],
    *,
    repo: str = "",
    sha: str = "",
    archive: str = "",
    efficiency: dict | None = None,
    **fields,
) -> Submission:
    """A scored model submission with the primary metric's value on each named split."""
    task = benchmark.tasks.get()
    submission = Submission.objects.create(
        benchmark=benchmark,
        participant=participant,
        kind=Submission.Kind.MODEL,
        status=Submission.Status.SCORED,
        progress=1.0,
        model_repo_id=repo,
        model_revision="main" if repo else "",
        model_sha=sha,
        original_filename=archive,
        **fields,
    )
    for split_name, value in values.items():
        Evaluation.objects.create(
            submission=submission,
            task=task,
            split=task.splits.get(name=split_name),
            metrics={
                task.primary_metric: {"value": value, "ci": None if value is None else [1, 2]}
            },
            efficiency=efficiency,
        )
    return submission


class TaskTypeFixtures(PlatformTestCase):
    """Two public QA benchmarks, one with a revealed hidden split; a third public one whose
    hidden split is revealed only after a close still to come; a private and an unlisted one.
    Models A (Hub), B (Hub), C (archive) and G (Hub, not alice's best on qa-one), a prediction
    file that tops qa-one, and runs that must never count."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.carol, cls.dave, cls.eve = (make_user(n) for n in ("carol", "dave", "eve"))
        later = timezone.now() + timedelta(days=30)
        cls.qa_one = qa_benchmark("qa-one", "f1", hidden={})
        cls.qa_two = qa_benchmark("qa-two", "exact_match")
        cls.closing = qa_benchmark(
            "qa-closing", hidden={"reveal": Split.Reveal.AFTER_CLOSE}, closes_at=later
        )
        cls.hidden_board = qa_benchmark(
            "qa-hidden-only", hidden={"reveal": Split.Reveal.AFTER_CLOSE}, closes_at=later
        )
        cls.hidden_board.tasks.get().splits.filter(name="dev").delete()
        cls.secret = qa_benchmark("qa-secret", visibility=Benchmark.Visibility.PRIVATE)
        cls.unlisted = qa_benchmark("qa-by-link", visibility=Benchmark.Visibility.UNLISTED)

        a = {"repo": "org/model-a", "sha": SHA_A}
        b = {"repo": "org/model-b", "sha": SHA_B}
        c = {"archive": "model-c.zip", "sha": ARCHIVE_C, "name": "carol's archive"}
        # qa-one's board (test, hidden, revealed): dave 95 (predictions), alice 90 (A),
        # carol 85 (C), bob 80 (B); alice's G (88) is not her best.
        cls.a_one = model_run(cls.qa_one, cls.alice, {"dev": 10, "test": 90}, **a)
        cls.b_one = model_run(cls.qa_one, cls.bob, {"test": 80}, efficiency=EFFICIENCY, **b)
        cls.c_one = model_run(cls.qa_one, cls.carol, {"test": 85}, **c)
        cls.g_one = model_run(cls.qa_one, cls.alice, {"test": 88}, repo="org/model-g", sha=SHA_G)
        make_scored_submission(cls.qa_one, cls.dave, {"test": {"f1": 95}})
        # qa-two (dev): bob 80 (B), alice 70 (A).
        cls.a_two = model_run(cls.qa_two, cls.alice, {"dev": 70}, **a)
        cls.b_two = model_run(cls.qa_two, cls.bob, {"dev": 80}, **b)
        # qa-closing: its board is dev (B 60, A 50) until the close; test is withheld.
        cls.a_closing = model_run(cls.closing, cls.alice, {"dev": 50, "test": 77.77}, **a)
        cls.b_closing = model_run(cls.closing, cls.bob, {"dev": 60, "test": 66.66}, **b)
        # Never: these would top every board.
        for fields in ({"is_hidden": True}, {"is_disqualified": True}, {"is_private": True}):
            model_run(cls.qa_one, cls.eve, {"test": 99}, repo="org/never", sha="e" * 40, **fields)
        model_run(cls.qa_one, cls.eve, {"test": 99}, repo="org/queued", sha="f" * 40)
        Submission.objects.filter(model_repo_id="org/queued").update(status="running")
        model_run(cls.hidden_board, cls.eve, {"test": 99}, repo="org/withheld", sha="d" * 40)
        model_run(cls.secret, cls.eve, {"dev": 99}, repo="org/secret-model", sha="d" * 40)
        model_run(cls.unlisted, cls.eve, {"dev": 99}, repo="org/unlisted-model", sha="d" * 40)

    def best(self, task_type: str = "question-answering", **params) -> dict:
        response = self.client.get(API.format(task_type), params)
        self.assertEqual(response.status_code, 200, response.content)
        return response.json()


class RankingTests(TaskTypeFixtures):
    def test_models_are_ranked_by_their_mean_percentile_with_one_neutral_result(self):
        body = self.best()
        # B: 12.5, 75, 75; G: 50; C: 37.5; A: 62.5, 25, 25. Score: (Σ + 50) / (n + 1).
        self.assertEqual(
            [(m["rank"], m["name"], m["score"], m["boards"]) for m in body["models"]],
            [
                (1, "org/model-b", 53.125, 3),
                (2, "org/model-g", 50.0, 1),
                (3, "carol's archive", 43.75, 1),
                (4, "org/model-a", 40.625, 3),
            ],
        )
        self.assertEqual(
            (body["total"], body["limit"], body["task_type"]), (4, 10, "question-answering")
        )

    def test_each_model_has_its_result_on_each_board(self):
        models = {m["name"]: m for m in self.best()["models"]}
        a = models["org/model-a"]
        self.assertEqual(
            {k: a[k] for k in ("repo_id", "revision", "sha", "archive", "url", "benchmarks")},
            {
                "repo_id": "org/model-a",
                "revision": "main",
                "sha": SHA_A,
                "archive": None,
                "url": f"https://huggingface.co/org/model-a/tree/{SHA_A}",
                "benchmarks": 3,
            },
        )
        self.assertEqual(
            [
                (r["benchmark"], r["task"], r["split"], r["metric"], r["value"], r["rank"])
                + (r["rows"], r["percentile"], r["on_board"], r["submission"])
                for r in a["results"]
            ],
            [
                ("qa-closing", "reading", "dev", "f1", 50.0, 2, 2, 25.0, True, self.a_closing.pk),
                ("qa-one", "reading", "test", "f1", 90.0, 2, 4, 62.5, True, self.a_one.pk),
                ("qa-two", "reading", "dev", "exact_match", 70.0, 2, 2, 25.0, True, self.a_two.pk),
            ],
        )
        self.assertEqual(a["results"][1]["ci"], [1, 2])
        self.assertEqual(a["results"][1]["url"], f"http://testserver/submissions/{self.a_one.pk}/")
        self.assertIsNone(a["results"][1]["efficiency"])

    def test_a_runs_rank_is_the_rank_its_board_shows(self):
        ranking = task_types.best_models("question-answering", limit=100)
        checked = 0
        for model in ranking.models:
            for result in model.results:
                board = leaderboard_build(task=result.board.task, split=result.board.split)
                ranks = {row.submission.pk: row.rank for row in board.rows}
                self.assertEqual(len(board.rows), len(result.board.scores))
                if result.on_board:
                    self.assertEqual(result.rank, ranks[result.submission_id])
                    checked += 1
        self.assertEqual(checked, 7)  # A and B on three boards, C on one; G is not a row

    def test_a_run_that_is_not_its_participants_best_is_placed_among_the_boards_rows(self):
        (g,) = [m for m in self.best()["models"] if m["name"] == "org/model-g"]
        result = g["results"][0]
        # 95, 90 above it; 85, 80 below: rank 3 of the board's 4 rows and itself.
        self.assertEqual(
            (result["rank"], result["rows"], result["percentile"], result["on_board"]),
            (3, 5, 50.0, False),
        )

    def test_an_archive_is_named_by_its_submission_and_has_no_repository_link(self):
        (c,) = [m for m in self.best()["models"] if m["sha"] == ARCHIVE_C]
        self.assertEqual(
            (c["name"], c["repo_id"], c["archive"], c["url"]),
            ("carol's archive", None, "model-c.zip", None),
        )

    def test_efficiency_figures_where_measured(self):
        (b,) = [m for m in self.best()["models"] if m["name"] == "org/model-b"]
        self.assertEqual(b["parameters"], 66_000_000)
        qa_one = next(r for r in b["results"] if r["benchmark"] == "qa-one")
        self.assertEqual(
            qa_one["efficiency"],
            {
                "rows_per_second": 120.5,
                "latency_ms_p50": 8.25,
                "parameters": 66_000_000,
                "peak_rss_mb": 900.0,
                "peak_gpu_mb": None,
                "device": "cpu",
            },
        )

    def test_the_boards_it_ranks_on(self):
        self.assertEqual(
            self.best()["boards"],
            [
                {"benchmark": "qa-closing", "task": "reading", "split": "dev", "metric": "f1"}
                | {"lower_is_better": False, "rows": 2},
                {"benchmark": "qa-one", "task": "reading", "split": "test", "metric": "f1"}
                | {"lower_is_better": False, "rows": 4},
                {"benchmark": "qa-two", "task": "reading", "split": "dev"}
                | {"metric": "exact_match", "lower_is_better": False, "rows": 2},
            ],
        )

    def test_the_best_run_of_a_model_on_a_board_counts(self):
        evaluation = make_user("evaluation")
        rerun = model_run(
            self.qa_two, evaluation, {"dev": 85}, repo="org/model-b", sha=SHA_B, is_baseline=True
        )
        (b,) = [m for m in self.best()["models"] if m["name"] == "org/model-b"]
        qa_two = next(r for r in b["results"] if r["benchmark"] == "qa-two")
        # Board: 85 (the rerun, a baseline), 80 (bob's), 70 (alice's).
        self.assertEqual(
            (qa_two["submission"], qa_two["value"], qa_two["rank"], qa_two["rows"]),
            (rerun.pk, 85.0, 1, 3),
        )

    def test_a_different_commit_of_a_repository_is_another_model(self):
        model_run(self.qa_two, self.carol, {"dev": 75}, repo="org/model-a", sha="0" * 40)
        names = [(m["name"], m["sha"]) for m in self.best()["models"]]
        self.assertIn(("org/model-a", SHA_A), names)
        self.assertIn(("org/model-a", "0" * 40), names)

    def test_an_undefined_value_ranks_last(self):
        model_run(self.qa_two, self.carol, {"dev": None}, repo="org/model-n", sha="1" * 40)
        (n,) = [m for m in self.best()["models"] if m["name"] == "org/model-n"]
        self.assertEqual(
            [(r["value"], r["rank"], r["rows"], r["percentile"]) for r in n["results"]],
            [(None, None, 3, 0.0)],
        )
        self.assertEqual(n["score"], 25.0)


class WhatNeverCountsTests(TaskTypeFixtures):
    def test_no_private_unlisted_withheld_or_off_board_run_and_no_prediction_file(self):
        content = self.client.get(API.format("question-answering"), {"limit": 100}).content
        for never in (
            b"org/never", b"org/queued", b"org/withheld", b"org/secret-model",
            b"org/unlisted-model", b"qa-secret", b"qa-by-link", b"qa-hidden-only",
        ):  # fmt: skip
            self.assertNotIn(never, content)
        body = self.best(limit=100)
        values = {r["value"] for m in body["models"] for r in m["results"]}
        self.assertEqual(values, {50.0, 60.0, 70.0, 80.0, 85.0, 88.0, 90.0})
        # The after-close split's values, withheld until the close.
        self.assertNotIn(b"77.77", content)
        self.assertNotIn(b"66.66", content)
        # The prediction file is a row of qa-one's board, never a model.
        self.assertNotIn(b"predictions.csv", content)

    def test_not_even_for_maintainers_or_staff(self):
        for user in (self.staff, self.eve):
            self.client.force_login(user)
            names = {m["name"] for m in self.best(limit=100)["models"]}
            self.assertEqual(
                names, {"org/model-a", "org/model-b", "org/model-g", "carol's archive"}
            )

    def test_a_hidden_split_counts_once_its_scores_are_revealed(self):
        Benchmark.objects.filter(pk=self.closing.pk).update(
            closes_at=timezone.now() - timedelta(days=1)
        )
        body = self.best()
        board = next(b for b in body["boards"] if b["benchmark"] == "qa-closing")
        self.assertEqual(board["split"], "test")
        (a,) = [m for m in body["models"] if m["name"] == "org/model-a"]
        closing = next(r for r in a["results"] if r["benchmark"] == "qa-closing")
        self.assertEqual((closing["split"], closing["value"], closing["rank"]), ("test", 77.77, 1))

    def test_a_benchmark_made_private_leaves_the_ranking(self):
        Benchmark.objects.filter(pk=self.qa_two.pk).update(visibility="private")
        body = self.best()
        self.assertNotIn("qa-two", {b["benchmark"] for b in body["boards"]})
        self.assertNotIn(
            b"qa-two",
            self.client.get(reverse("task_type_best", args=["question-answering"])).content,
        )


class LowerIsBetterTests(PlatformTestCase):
    def test_percentiles_follow_each_boards_direction(self):
        errors = regression_benchmark("errors", "mse")
        fit = regression_benchmark("fit", "pearson")
        x, y, z = ({"repo": f"org/{n}", "sha": n * 40} for n in "xyz")
        model_run(errors, self.alice, {"dev": 0.1}, **x)
        model_run(errors, self.bob, {"dev": 0.2}, **y)
        model_run(errors, self.author, {"dev": 0.05}, **z)
        model_run(fit, self.alice, {"dev": 0.9}, **x)
        model_run(fit, self.bob, {"dev": 0.5}, **y)
        body = self.client.get(API.format("regression")).json()
        # errors: z 83.33, x 50, y 16.67; fit: x 75, y 25.
        self.assertEqual(
            [(m["name"], m["score"]) for m in body["models"]],
            [("org/z", 66.6667), ("org/x", 58.3333), ("org/y", 30.5556)],
        )
        self.assertEqual([b["lower_is_better"] for b in body["boards"]], [True, False])
        (z_result,) = body["models"][0]["results"]
        self.assertEqual((z_result["value"], z_result["rank"]), (0.05, 1))


class LimitAndParameterTests(TaskTypeFixtures):
    def test_limit_keeps_the_top_models(self):
        body = self.best(limit=2)
        self.assertEqual([m["name"] for m in body["models"]], ["org/model-b", "org/model-g"])
        self.assertEqual((body["total"], body["limit"]), (4, 2))
        self.assertEqual(len(self.best(limit=100)["models"]), 4)

    def test_a_bad_limit_is_a_400_naming_the_range(self):
        for raw in ("0", "101", "-1", "ten", "1.5", " ", "²"):
            errors = self.assert_errors(
                self.client.get(API.format("question-answering"), {"limit": raw}), 400
            )
            self.assertIn("1 to 100", errors[0])

    def test_an_unknown_parameter_is_a_400_naming_the_known_ones(self):
        errors = self.assert_errors(
            self.client.get(API.format("question-answering"), {"top": "3"}), 400
        )
        self.assertEqual(errors, ["Unknown parameter 'top': use limit."])
        self.assert_errors(self.client.get("/api/v1/task-types/", {"limit": "3"}), 400)

    def test_an_unknown_task_type_is_a_404_naming_the_types(self):
        errors = self.assert_errors(self.client.get(API.format("qa")), 404)
        self.assertIn("question-answering", errors[0])

    def test_the_page_refuses_a_bad_limit_and_shows_the_default_ranking(self):
        url = reverse("task_type_best", args=["question-answering"])
        response = self.client.get(url, {"limit": "500"})
        self.assertContains(response, "Invalid limit", status_code=400)
        self.assertEqual(len(response.context["ranking"].models), 4)


class QueryCountTests(PlatformTestCase):
    def models_on(self, count: int) -> None:
        """`count` more QA benchmarks, each with models m0 and m1 and a prediction file."""
        start = Benchmark.objects.count()
        for i in range(start, start + count):
            benchmark = qa_benchmark(f"qa-{i}", hidden={})
            for j, user in enumerate((self.alice, self.bob)):
                model_run(
                    benchmark, user, {"dev": 50 + j, "test": 60 + j}, repo=f"org/m{j}", sha="a" * 40
                )
            make_scored_submission(benchmark, self.author, {"test": {"f1": 70}})

    def test_a_ranking_takes_four_queries_and_the_index_three_whatever_their_size(self):
        self.models_on(2)
        with self.assertNumQueries(4):
            task_types.best_models("question-answering")
        with self.assertNumQueries(3):
            task_types.task_type_summaries()
        self.models_on(5)
        with self.assertNumQueries(4):
            ranking = task_types.best_models("question-answering")
        with self.assertNumQueries(3):
            task_types.task_type_summaries()
        self.assertEqual(len(ranking.boards), 7)
        self.assertEqual([len(m.results) for m in ranking.models], [7, 7])

    def test_the_api_and_the_page_too(self):
        self.models_on(2)
        counts = []
        for extra in (0, 4):
            self.models_on(extra)
            with self.assertNumQueries(4):
                self.client.get(API.format("question-answering"))
            with self.assertNumQueries(3):
                self.client.get("/api/v1/task-types/")
            with self.assertNumQueries(4):
                self.client.get(reverse("task_type_best", args=["question-answering"]))
            counts.append(len(self.client.get(API.format("question-answering")).json()["boards"]))
        self.assertEqual(counts, [2, 6])


class PageTests(TaskTypeFixtures):
    def test_the_page_shows_the_ranking(self):
        response = self.client.get(reverse("task_type_best", args=["question-answering"]))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(
            [m.name for m in response.context["ranking"].models],
            ["org/model-b", "org/model-g", "carol's archive", "org/model-a"],
        )
        self.assertContains(response, f"https://huggingface.co/org/model-a/tree/{SHA_A}")
        self.assertContains(response, f"/submissions/{self.a_one.pk}/")
        self.assertContains(response, "53.1")  # B's score
        self.assertContains(response, "121")  # B's rows per second on qa-one
        self.assertContains(response, "66M")
        self.assertContains(response, 'aria-current="page">Task types')
        for never in ("org/never", "qa-secret", "qa-by-link", "77.77", "org/withheld"):
            self.assertNotContains(response, never)

    def test_a_type_without_models_says_so(self):
        response = self.client.get(reverse("task_type_best", args=["token-classification"]))
        self.assertContains(response, "No public benchmark has a token-classification task")
        response = self.client.get(reverse("task_type_best", args=["text-classification"]))
        self.assertContains(response, "No model submissions on the 1 public")

    def test_an_unknown_type_is_a_404(self):
        response = self.client.get("/tasks/question-answer/best/")
        self.assertEqual(response.status_code, 404)

    def test_the_index_lists_every_type_with_its_counts(self):
        response = self.client.get(reverse("task_type_list"))
        self.assertEqual(response.status_code, 200)
        summaries = {s.task_type: s for s in response.context["summaries"]}
        qa = summaries["question-answering"]
        self.assertEqual((qa.benchmarks, qa.boards, qa.models), (3, 3, 4))
        text = summaries["text-classification"]
        self.assertEqual((text.benchmarks, text.boards, text.models), (1, 1, 0))
        self.assertContains(response, reverse("task_type_best", args=["question-answering"]))
        body = self.client.get("/api/v1/task-types/").json()
        self.assertEqual(
            body["task_types"][2],
            {
                "task_type": "question-answering",
                "benchmarks": 3,
                "boards": 3,
                "models": 4,
                "url": "http://testserver/api/v1/task-types/question-answering/best/",
            },
        )


@pytest.mark.browser
class PhoneWidthTests(StaticLiveServerTestCase):
    """At 390 px the rank, the model and its score are on screen; the other columns scroll
    inside the table's wrapper, never the page."""

    @pytest.fixture(autouse=True)
    def _browser(self, settings, tmp_path):
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(tmp_path / "storage")},
            },
        }
        with chromium_launched() as browser:
            self.browser = browser
            yield

    def test_rank_model_and_score_fit_a_phone(self):
        user = make_user("alice")
        for i in range(2):
            benchmark = qa_benchmark(f"question-answering-benchmark-{i}")
            model_run(
                benchmark,
                user,
                {"dev": 70 + i},
                repo="a-long-organisation-name/a-rather-long-model-name-squad2-finetuned",
                sha="a" * 40,
                efficiency=EFFICIENCY,
            )
        page = self.browser.new_page(viewport={"width": 390, "height": 844})
        page.goto(self.live_server_url + reverse("task_type_best", args=["question-answering"]))
        sizes = page.evaluate(
            "() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth,"
            " cells: [...document.querySelectorAll('.type-best tbody tr:first-child td')]"
            "  .slice(0, 4).map(td => td.getBoundingClientRect().right)})"
        )
        page.close()
        self.assertLessEqual(sizes["scroll"], sizes["inner"])
        rank, model, score, benchmark = sizes["cells"]
        self.assertLessEqual(score, sizes["inner"])
        self.assertLess(rank, model)
        self.assertGreater(benchmark, sizes["inner"])  # the rest scrolls in the wrapper
