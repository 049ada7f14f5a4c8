"""Live progress: the part of a submission's page that polls while the submission is queued or
running (`submission_progress`), the table of "My submissions" that does the same, and the
participant's rank on the boards of a scored submission's page."""

from datetime import timedelta

from django.contrib.staticfiles import finders
from django.urls import reverse
from django.utils import timezone

from benchmarks.models import Benchmark, Split
from submissions import views
from submissions.models import Submission
from tests.base import (
    PlatformTestCase,
    assert_no_hidden_labels,
    hidden_pairs,
    make_benchmark,
    make_scored_submission,
    make_user,
)

HTMX = {"HX-Request": "true"}


class SubmissionProgressTests(PlatformTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.queued = Submission.objects.create(
            benchmark=cls.benchmark, participant=cls.alice, name="still-going"
        )
        cls.scored = make_scored_submission(
            cls.benchmark, cls.alice, {"dev": {"accuracy": 0.812}, "test": {"accuracy": 0.6875}}
        )

    def url(self, submission):
        return reverse("submission_progress", args=[submission.pk])

    def set(self, submission, **fields):
        Submission.objects.filter(pk=submission.pk).update(**fields)

    # Who may poll it: exactly who may see the page

    def test_anonymous_users_get_a_404_for_a_submission_not_on_a_board(self):
        self.assertEqual(self.client.get(self.url(self.queued)).status_code, 404)

    def test_another_participant_gets_a_404(self):
        self.client.force_login(self.bob)
        self.assertEqual(self.client.get(self.url(self.queued), headers=HTMX).status_code, 404)

    def test_an_unknown_id_is_a_404(self):
        self.client.force_login(self.alice)
        self.assertEqual(self.client.get("/submissions/999999/progress/").status_code, 404)

    def test_the_owner_the_maintainers_and_staff_can_poll_it(self):
        for user in (self.alice, self.author, self.staff):
            self.client.force_login(user)
            self.assertEqual(self.client.get(self.url(self.queued)).status_code, 200)

    def test_submissions_off_the_boards_are_a_404_to_everyone_else(self):
        for flag in ("is_hidden", "is_disqualified", "is_private"):
            submission = make_scored_submission(
                self.benchmark, self.alice, {"dev": {"accuracy": 0.5}}, **{flag: True}
            )
            for user in (None, self.bob):
                self.client.logout()
                if user:
                    self.client.force_login(user)
                response = self.client.get(self.url(submission), headers=HTMX)
                self.assertEqual(response.status_code, 404, (flag, user))
            self.client.force_login(self.alice)
            self.assertEqual(self.client.get(self.url(submission)).status_code, 200, flag)

    def test_a_submission_on_a_private_benchmark_is_a_404_to_those_who_cannot_see_it(self):
        private = make_benchmark(
            "private-bench",
            visibility=Benchmark.Visibility.PRIVATE,
            maintainers=(self.author,),
        )
        submission = make_scored_submission(private, self.alice, {"dev": {"accuracy": 0.5}})
        self.assertEqual(self.client.get(self.url(submission)).status_code, 404)
        self.client.force_login(self.bob)
        self.assertEqual(self.client.get(self.url(submission)).status_code, 404)

    def test_a_result_on_a_board_is_answered_to_anyone_who_sees_the_board(self):
        response = self.client.get(self.url(self.scored), headers=HTMX)
        self.assertContains(response, "Scored")

    def test_it_only_answers_get(self):
        self.client.force_login(self.alice)
        self.assertEqual(self.client.post(self.url(self.queued)).status_code, 405)

    def test_it_is_never_cached(self):
        self.client.force_login(self.alice)
        response = self.client.get(self.url(self.queued))
        self.assertIn("no-store", response["Cache-Control"])

    # What it shows

    def test_a_running_submission_shows_its_progress_and_polls_again(self):
        self.set(self.queued, status=Submission.Status.RUNNING, progress=0.4)
        self.client.force_login(self.alice)
        response = self.client.get(self.url(self.queued), headers=HTMX)
        self.assertContains(response, 'style="width: 40%"')
        self.assertContains(response, 'aria-valuenow="40"')
        self.assertContains(response, "Scoring… 40%")
        self.assertContains(response, f'hx-get="{self.url(self.queued)}"')
        # Not while the tab is in the background.
        self.assertContains(
            response, "hx-trigger=\"every 2s [document.visibilityState === 'visible']\""
        )
        # The status in the page's title changes with it.
        self.assertContains(response, 'id="submission-status" hx-swap-oob="true"')
        self.assertContains(response, "status-running")

    def test_a_queued_submission_says_how_many_wait_before_it(self):
        Submission.objects.create(
            benchmark=self.benchmark,
            participant=self.bob,
            created_at=self.queued.created_at - timedelta(minutes=1),
        )
        self.client.force_login(self.alice)
        response = self.client.get(self.url(self.queued), headers=HTMX)
        self.assertContains(response, "waiting for a scoring worker (1 submission ahead of it)")
        # Only the count: nothing of the other participant's submission.
        self.assertNotContains(response, "bob")

    def test_a_model_submission_shows_its_stage(self):
        self.set(
            self.queued,
            kind=Submission.Kind.MODEL,
            stage=Submission.Stage.RUN,
            status=Submission.Status.RUNNING,
            rows_done=30,
            rows_total=120,
        )
        self.client.force_login(self.alice)
        response = self.client.get(self.url(self.queued), headers=HTMX)
        self.assertContains(response, "<strong>1. run the model</strong>")
        self.assertContains(response, "30 of 120 rows")

    def test_a_scored_submission_stops_polling_and_brings_in_its_results(self):
        self.client.force_login(self.alice)
        response = self.client.get(self.url(self.scored), headers=HTMX)
        page = reverse("submission_detail", args=[self.scored.pk])
        self.assertNotContains(response, "every 2s")
        self.assertContains(response, f'Scored: <a href="{page}">see the results</a>')
        self.assertContains(response, f'hx-get="{page}" hx-trigger="load"')
        self.assertContains(response, 'hx-select="#submission-page"')
        # Scores are the page's to show, not this part's.
        self.assertNotContains(response, "0.812")

    def test_a_failed_submission_stops_polling_and_shows_its_error(self):
        self.set(
            self.queued,
            status=Submission.Status.FAILED,
            error='2 ids are missing, e.g. "test-001".',
            finished_at=timezone.now(),
        )
        self.client.force_login(self.alice)
        response = self.client.get(self.url(self.queued), headers=HTMX)
        self.assertNotContains(response, "every 2s")
        self.assertContains(response, "Why it failed")
        self.assertContains(response, "2 ids are missing, e.g. &quot;test-001&quot;.")
        self.assertContains(response, "status-failed")

    def test_it_shows_no_hidden_label_in_any_state(self):
        pairs = hidden_pairs(self.benchmark)
        self.client.force_login(self.alice)
        for status in Submission.Status.values:
            self.set(self.queued, status=status, error='1 id is unknown, e.g. "x".')
            response = self.client.get(self.url(self.queued), headers=HTMX)
            self.assertEqual(response.status_code, 200)
            assert_no_hidden_labels(self, response.content, pairs)
        assert_no_hidden_labels(self, self.client.get(self.url(self.scored)).content, pairs)

    def test_polling_costs_a_few_queries(self):
        self.client.force_login(self.alice)
        self.client.get(self.url(self.queued))
        # session, user, the submission with its benchmark, the count of those ahead
        with self.assertNumQueries(4):
            self.client.get(self.url(self.queued), headers=HTMX)


class SubmissionPageLiveTests(PlatformTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.queued = Submission.objects.create(benchmark=cls.benchmark, participant=cls.alice)
        cls.scored = make_scored_submission(cls.benchmark, cls.alice, {"dev": {"accuracy": 0.8}})

    def page(self, submission):
        self.client.force_login(self.alice)
        return self.client.get(reverse("submission_detail", args=[submission.pk]))

    def test_an_unfinished_page_polls_its_live_part_with_htmx_from_our_static_files(self):
        response = self.page(self.queued)
        self.assertContains(response, 'src="/static/vendor/htmx/htmx.min.js"')
        self.assertContains(
            response, f'hx-get="{reverse("submission_progress", args=[self.queued.pk])}"'
        )
        self.assertContains(response, '<div id="submission-page">')
        self.assertContains(response, '<span id="submission-status">')
        # Without scripts it reloads itself instead.
        self.assertContains(response, '<noscript><meta http-equiv="refresh" content="2">')

    def test_a_final_page_loads_no_script_and_does_not_poll(self):
        response = self.page(self.scored)
        self.assertNotContains(response, "htmx.min.js")
        self.assertNotContains(response, "hx-trigger")
        self.assertNotContains(response, "see the results")

    def test_htmx_is_vendored_with_its_version_and_license_and_no_source_map(self):
        path = finders.find("vendor/htmx/htmx.min.js")
        self.assertIsNotNone(path)
        with open(path, encoding="utf-8") as f:
            source = f.read()
        self.assertTrue(source.startswith("/*! htmx 2."), source[:80])
        self.assertIn("license", source[:300].lower())
        # The manifest storage of collectstatic fails on a source map it cannot find.
        self.assertNotIn("sourceMappingURL", source)
        self.assertIsNotNone(finders.find("vendor/htmx/LICENSE"))


class MySubmissionsLiveTests(PlatformTestCase):
    url = reverse("my_submissions")

    def test_while_one_is_unfinished_the_table_polls_the_page(self):
        Submission.objects.create(benchmark=self.benchmark, participant=self.alice)
        self.client.force_login(self.alice)
        response = self.client.get(self.url)
        self.assertContains(response, 'src="/static/vendor/htmx/htmx.min.js"')
        self.assertContains(response, f'hx-get="{self.url}" hx-trigger="every 2s [')

    def test_the_poll_keeps_the_page_of_the_table(self):
        for _ in range(51):
            Submission.objects.create(benchmark=self.benchmark, participant=self.alice)
        self.client.force_login(self.alice)
        response = self.client.get(self.url, {"page": "2"})
        self.assertContains(response, f'hx-get="{self.url}?page=2"')

    def test_htmx_gets_the_table_alone_with_progress(self):
        Submission.objects.create(
            benchmark=self.benchmark,
            participant=self.alice,
            name="half-way",
            status=Submission.Status.RUNNING,
            progress=0.5,
        )
        self.client.force_login(self.alice)
        response = self.client.get(self.url, headers=HTMX)
        content = response.content.decode()
        self.assertTrue(content.lstrip().startswith('<div id="my-submissions"'), content[:200])
        self.assertNotIn("<html", content)
        self.assertIn("half-way", content)
        self.assertIn('style="width: 50%"', content)
        # One address, two answers: caches keep them apart.
        self.assertIn("HX-Request", response["Vary"])

    def test_when_all_are_final_the_table_stops_polling(self):
        make_scored_submission(self.benchmark, self.alice, {"dev": {"accuracy": 0.812}})
        self.client.force_login(self.alice)
        for headers in ({}, HTMX):
            response = self.client.get(self.url, headers=headers)
            self.assertContains(response, "0.812")
            self.assertNotContains(response, "hx-trigger")
            self.assertNotContains(response, "htmx.min.js")

    def test_the_table_holds_only_the_users_own_submissions(self):
        Submission.objects.create(benchmark=self.benchmark, participant=self.alice, name="mine")
        Submission.objects.create(benchmark=self.benchmark, participant=self.bob, name="bobs")
        self.client.force_login(self.alice)
        response = self.client.get(self.url, headers=HTMX)
        self.assertContains(response, "mine")
        self.assertNotContains(response, "bobs")

    def test_a_poll_after_signing_out_reloads_the_page_which_asks_to_log_in(self):
        response = self.client.get(self.url, headers=HTMX)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["HX-Refresh"], "true")
        self.assertNotContains(response, "Log in")
        self.assertRedirects(self.client.get(self.url), f"{reverse('login')}?next={self.url}")

    def test_a_poll_costs_what_the_page_costs(self):
        make_scored_submission(self.benchmark, self.alice, {"dev": {"accuracy": 0.5}})
        Submission.objects.create(benchmark=self.benchmark, participant=self.alice)
        self.client.force_login(self.alice)
        # session, user, page count, submissions, their evaluations
        with self.assertNumQueries(5):
            self.client.get(self.url, headers=HTMX)


class BoardRankTests(PlatformTestCase):
    """A scored submission's page says where its participant stands on each split's default
    board (each participant's best, ranked on the primary metric)."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.carol = make_user("carol")
        cls.mine = make_scored_submission(
            cls.benchmark, cls.alice, {"dev": {"accuracy": 0.7}, "test": {"accuracy": 0.6}}
        )
        make_scored_submission(
            cls.benchmark, cls.bob, {"dev": {"accuracy": 0.9}, "test": {"accuracy": 0.5}}
        )
        make_scored_submission(
            cls.benchmark, cls.carol, {"dev": {"accuracy": 0.8}, "test": {"accuracy": 0.4}}
        )

    def page(self, submission, user=None):
        if user:
            self.client.force_login(user)
        return self.client.get(reverse("submission_detail", args=[submission.pk]))

    def board(self, split: str) -> str:
        return reverse("leaderboard", args=[self.benchmark.slug]) + f"?task=sst&amp;split={split}"

    def test_the_owner_sees_their_rank_on_each_board(self):
        response = self.page(self.mine, self.alice)
        self.assertContains(
            response,
            f'Your rank on the <a href="{self.board("dev")}">dev board</a>: <strong>#3</strong>',
        )
        self.assertContains(
            response,
            f'Your rank on the <a href="{self.board("test")}">test board</a>: <strong>#1</strong>',
        )

    def test_anyone_who_sees_the_board_sees_the_rank(self):
        response = self.page(self.mine)
        self.assertContains(response, "Rank on the <a")
        self.assertContains(response, "<strong>#3</strong>")

    def test_equal_values_share_a_rank(self):
        make_scored_submission(self.benchmark, self.staff, {"dev": {"accuracy": 0.7}})
        self.assertContains(self.page(self.mine, self.alice), "<strong>#3</strong>")

    def test_it_is_the_rank_of_the_participants_best(self):
        better = make_scored_submission(
            self.benchmark, self.alice, {"dev": {"accuracy": 0.95}, "test": {"accuracy": 0.3}}
        )
        response = self.page(self.mine, self.alice)
        self.assertContains(response, 'dev board</a>: <strong>#1</strong> <span class="muted')
        self.assertContains(response, f"#{better.pk}</a>, your best there)")
        # On test, this submission is still alice's best.
        self.assertContains(response, "test board</a>: <strong>#1</strong></p>")

    def test_scores_withheld_until_the_close_show_no_rank(self):
        Split.objects.filter(pk=self.test_split.pk).update(reveal=Split.Reveal.AFTER_CLOSE)
        response = self.page(self.mine, self.alice)
        self.assertContains(response, "dev board</a>")
        self.assertNotContains(response, "test board</a>")
        # Maintainers see those boards, and the rank.
        self.assertContains(self.page(self.mine, self.author), "test board</a>")

    def test_a_private_benchmark_shows_its_past_participant_no_rank(self):
        Benchmark.objects.filter(pk=self.benchmark.pk).update(
            visibility=Benchmark.Visibility.PRIVATE
        )
        response = self.page(self.mine, self.alice)
        self.assertEqual(response.status_code, 200)
        self.assertNotContains(response, "board</a>: <strong>")

    def test_a_participant_with_nothing_on_the_board_has_no_rank(self):
        private = make_scored_submission(
            self.benchmark, self.staff, {"dev": {"accuracy": 0.99}}, is_private=True
        )
        self.assertNotContains(self.page(private, self.staff), "board</a>: <strong>")

    def test_a_baseline_is_ranked_as_its_own_row(self):
        baseline = make_scored_submission(
            self.benchmark, self.author, {"dev": {"accuracy": 0.85}}, is_baseline=True
        )
        self.assertContains(self.page(baseline), "dev board</a>: <strong>#2</strong></p>")
        # The baseline is a row of the board: alice is behind it now.
        self.assertContains(self.page(self.mine, self.alice), "<strong>#4</strong>")

    def test_the_ranks_of_every_board_cost_one_query(self):
        results = [
            {"withheld": False, "evaluation": evaluation, "primary": "accuracy"}
            for evaluation in self.mine.evaluations.all()
        ]
        with self.assertNumQueries(1):
            ranks = views._board_ranks(self.alice, self.mine, results)
        self.assertEqual(
            {split: rank["rank"] for split, rank in ranks.items()},
            {self.dev.pk: 3, self.test_split.pk: 1},
        )
