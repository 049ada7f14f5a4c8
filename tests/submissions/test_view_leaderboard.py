import re
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from benchmarks.models import Benchmark, Split, Task
from tests.base import PlatformTestCase, make_benchmark, make_scored_submission, make_user


def body_rows(content: str) -> list[list[str]]:
    """The leaderboard table's rows as lists of cell texts (the participant's name repeated
    under the submission's for phones left out)."""
    tbody = content.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    tbody = re.sub(r'<span class="participant-inline">.*?</span>', "", tbody)
    rows = []
    for tr in re.findall(r"<tr.*?</tr>", tbody, re.S):
        cells = re.findall(r"<td.*?>(.*?)</td>", tr, re.S)
        rows.append([" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in cells])
    return rows


class LeaderboardTests(PlatformTestCase):
    def url(self, slug="sentiment", **params):
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return reverse("leaderboard", args=[slug]) + (f"?{query}" if query else "")

    def score(self, user, accuracy, split="test", **fields):
        return make_scored_submission(
            self.benchmark, user, {split: {"accuracy": accuracy, "f1_macro": 0.5}}, **fields
        )

    def test_anonymous_users_see_a_public_leaderboard(self):
        self.score(self.alice, 0.9, name="alice-model")
        response = self.client.get(self.url())
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "alice-model")

    def test_a_private_benchmark_is_a_404_to_non_maintainers(self):
        make_benchmark("secret-bench", visibility=Benchmark.Visibility.PRIVATE)
        self.assertEqual(self.client.get(self.url("secret-bench")).status_code, 404)
        self.client.force_login(self.bob)
        self.assertEqual(self.client.get(self.url("secret-bench")).status_code, 404)

    def test_maintainers_see_their_private_leaderboard(self):
        make_benchmark("secret-bench", visibility="private", maintainers=(self.author,))
        self.client.force_login(self.author)
        self.assertEqual(self.client.get(self.url("secret-bench")).status_code, 200)

    def test_it_only_answers_get(self):
        self.assertEqual(self.client.post(self.url()).status_code, 405)

    def test_an_unknown_task_or_split_or_a_train_split_is_a_404(self):
        Split.objects.create(task=self.task, name="train", role=Split.Role.TRAIN, fingerprint="x")
        self.assertEqual(self.client.get(self.url(task="nope")).status_code, 404)
        self.assertEqual(self.client.get(self.url(split="nope")).status_code, 404)
        self.assertEqual(self.client.get(self.url(split="train")).status_code, 404)

    def test_it_defaults_to_the_first_hidden_split_whose_scores_are_visible(self):
        self.score(self.alice, 0.9, name="on-test")
        response = self.client.get(self.url())
        self.assertEqual(response.context["split"], self.test_split)
        self.assertContains(response, "on-test")

    def test_it_links_each_scored_split_and_each_task(self):
        Task.objects.create(
            benchmark=self.benchmark,
            slug="second",
            title="Second task",
            type="text-classification",
            label_column="label",
            metrics=[{"name": "accuracy"}],
            primary_metric="accuracy",
            position=1,
        )
        response = self.client.get(self.url())
        self.assertContains(response, "?task=sst&amp;split=dev")
        self.assertContains(response, "?task=sst&amp;split=test")
        self.assertContains(response, "?task=second")

    def test_ties_share_a_rank_and_the_next_rank_skips(self):
        carol = make_user("carol")
        self.score(self.alice, 0.8, name="a")
        self.score(self.bob, 0.8, name="b")
        self.score(carol, 0.7, name="c")
        rows = body_rows(self.client.get(self.url()).content.decode())
        self.assertEqual([(r[0], r[2]) for r in rows], [("1", "a"), ("1", "b"), ("3", "c")])

    def test_rows_without_a_value_come_last_without_a_rank(self):
        carol = make_user("carol")
        self.score(self.alice, None, name="no-value")
        self.score(self.bob, 0.6, name="low")
        self.score(carol, 0.9, name="high")
        rows = body_rows(self.client.get(self.url()).content.decode())
        self.assertEqual(
            [(r[0], r[2]) for r in rows], [("1", "high"), ("2", "low"), ("—", "no-value")]
        )
        self.assertEqual(rows[2][3], "—")

    def test_it_shows_each_participants_best_submission_once(self):
        self.score(self.alice, 0.6, name="first-try")
        self.score(self.alice, 0.9, name="second-try")
        content = self.client.get(self.url()).content.decode()
        # On the board; the history under it lists every submission that raised the best.
        self.assertEqual([r[2] for r in body_rows(content)], ["second-try"])

    def test_lower_is_better_metrics_sort_ascending_with_an_up_arrow(self):
        Task.objects.filter(pk=self.task.pk).update(
            type="regression",
            metrics=[{"name": "mse"}, {"name": "pearson"}],
            primary_metric="mse",
        )
        make_scored_submission(
            self.benchmark, self.alice, {"test": {"mse": 0.5, "pearson": 0.9}}, name="big-error"
        )
        make_scored_submission(
            self.benchmark, self.bob, {"test": {"mse": 0.1, "pearson": 0.2}}, name="small-error"
        )
        response = self.client.get(self.url())
        content = response.content.decode()
        self.assertEqual([r[2] for r in body_rows(content)], ["small-error", "big-error"])
        # Human names in the header, the raw key in its tooltip (and in the sort link).
        self.assertIn(
            '<span class="metric-name" title="mse">MSE</span> <span class="arrow">↑</span>', content
        )
        pearson = '<span class="metric-name" title="pearson">Pearson r</span>'
        self.assertIn(f'{pearson} <span class="arrow">↓</span>', content)
        rows = body_rows(self.client.get(self.url(sort="pearson")).content.decode())
        self.assertEqual([r[2] for r in rows], ["big-error", "small-error"])

    def test_column_headers_are_sort_links(self):
        self.score(self.alice, 0.9)
        response = self.client.get(self.url(sort="f1_macro"))
        self.assertContains(response, "?task=sst&amp;split=test&amp;sort=accuracy")
        self.assertContains(response, "?task=sst&amp;split=test&amp;sort=f1_macro")
        self.assertEqual(response.context["board"].sort, "f1_macro")

    def test_an_unknown_sort_metric_is_a_400_saying_what_the_api_says(self):
        self.score(self.alice, 0.9)
        response = self.client.get(self.url(sort="bleu"))
        self.assertEqual(response.status_code, 400)
        api = self.client.get(
            f"/api/v1/benchmarks/{self.benchmark.slug}/leaderboard/", {"sort": "bleu"}
        )
        self.assertEqual(api.status_code, 400)
        self.assertContains(response, escape(api.json()["errors"][0]), status_code=400)
        # The board is still there, by the primary metric, so the page stays useful.
        self.assertEqual(response.context["board"].sort, "accuracy")

    def test_it_shows_confidence_intervals(self):
        submission = self.score(self.alice, 0.812)
        evaluation = submission.evaluations.get()
        evaluation.metrics["accuracy"]["ci"] = [0.78, 0.84]
        evaluation.save()
        response = self.client.get(self.url())
        self.assertContains(response, '0.812<span class="ci"> ± 0.030</span>')
        self.assertContains(response, "95% CI [0.780, 0.840]")

    def test_baselines_are_badged_and_the_viewers_rows_highlighted(self):
        self.score(self.author, 0.5, name="majority", is_baseline=True)
        self.score(self.alice, 0.9, name="mine")
        self.client.force_login(self.alice)
        content = self.client.get(self.url()).content.decode()
        self.assertIn('<span class="badge badge-baseline">baseline</span>', content)
        self.assertRegex(content, r'<tr class="mine">\s*<td class="num rank">1</td>')
        self.assertEqual(content.count('class="mine'), 1)

    def test_every_row_links_to_its_public_result_page(self):
        mine = self.score(self.alice, 0.9, name="mine")
        theirs = self.score(self.bob, 0.8, name="theirs")
        for user in (None, self.alice, self.author):
            self.client.logout()
            if user:
                self.client.force_login(user)
            content = self.client.get(self.url()).content.decode()
            self.assertIn(f'href="/submissions/{mine.pk}/"', content)
            self.assertIn(f'href="/submissions/{theirs.pk}/"', content)

    def test_hidden_and_disqualified_submissions_are_not_listed(self):
        self.score(self.alice, 0.9, name="hidden-one", is_hidden=True)
        self.score(self.bob, 0.9, name="dq-one", is_disqualified=True)
        content = self.client.get(self.url()).content.decode()
        self.assertNotIn("hidden-one", content)
        self.assertNotIn("dq-one", content)


class FinalBoardTests(PlatformTestCase):
    """A hidden split revealed only after the benchmark closes (a Kaggle-style final board)."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        Split.objects.filter(pk=cls.test_split.pk).update(reveal=Split.Reveal.AFTER_CLOSE)
        make_scored_submission(
            cls.benchmark, cls.alice, {"dev": {"accuracy": 0.61}, "test": {"accuracy": 0.777}}
        )

    def url(self, **params):
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return reverse("leaderboard", args=["sentiment"]) + (f"?{query}" if query else "")

    def test_participants_see_that_scores_are_revealed_at_close_and_no_values(self):
        self.client.force_login(self.alice)
        response = self.client.get(self.url(split="test"))
        self.assertContains(response, "Scores on this split are revealed when the benchmark closes")
        self.assertNotContains(response, "0.777")
        self.assertIsNone(response.context["board"])

    def test_the_default_board_is_the_public_split_while_the_final_one_is_withheld(self):
        response = self.client.get(self.url())
        self.assertEqual(response.context["split"], self.dev)
        self.assertContains(response, "0.610")
        self.assertNotContains(response, "0.777")

    def test_maintainers_see_the_final_board_before_close(self):
        self.client.force_login(self.author)
        response = self.client.get(self.url(split="test"))
        self.assertContains(response, "0.777")
        self.assertContains(response, "Participants cannot see this board")

    def test_everyone_sees_the_final_board_after_close(self):
        Benchmark.objects.filter(pk=self.benchmark.pk).update(
            closes_at=timezone.now() - timedelta(hours=1)
        )
        response = self.client.get(self.url(split="test"))
        self.assertContains(response, "0.777")


class LeaderboardQueryCountTests(PlatformTestCase):
    def test_the_query_count_does_not_grow_with_rows(self):
        url = reverse("leaderboard", args=["sentiment"])
        for i in range(3):
            make_scored_submission(
                self.benchmark, make_user(f"p{i}"), {"test": {"accuracy": i / 10}}
            )
        self.client.force_login(self.alice)
        # benchmark, tasks (tabs), task, splits (tabs), default split, session, user,
        # can_maintain, the page of board entries, their count, their significance tests,
        # the history
        with self.assertNumQueries(10):
            self.client.get(url)
        for i in range(3, 9):
            make_scored_submission(
                self.benchmark,
                make_user(f"p{i}"),
                {"test": {"accuracy": i / 10}},
                is_baseline=i % 2 == 0,
            )
        with self.assertNumQueries(10):
            response = self.client.get(url)
        self.assertEqual(len(response.context["board"].rows), 9)
