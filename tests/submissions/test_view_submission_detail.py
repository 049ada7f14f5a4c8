from datetime import UTC, datetime, timedelta

from django.urls import reverse
from django.utils import timezone

from benchmarks.models import Split
from submissions.models import Evaluation, Submission
from tests.base import (
    PlatformTestCase,
    assert_no_hidden_labels,
    hidden_pairs,
    make_scored_submission,
)


def cell(name, n, accuracy):
    return {"slice": "topic", "cell": name, "n": n, "metrics": {"accuracy": {"value": accuracy}}}


class SubmissionDetailTests(PlatformTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.queued = Submission.objects.create(
            benchmark=cls.benchmark, participant=cls.alice, name="still-going"
        )
        cls.scored = make_scored_submission(
            cls.benchmark,
            cls.alice,
            {"dev": {"accuracy": 0.8, "f1_macro": 0.7}, "test": {"accuracy": 0.75}},
            name="done",
        )

    def url(self, submission):
        return reverse("submission_detail", args=[submission.pk])

    def evaluation(self, split_name):
        return self.scored.evaluations.get(split__name=split_name)

    # Permissions

    def test_anonymous_users_see_only_submissions_on_a_board(self):
        self.assertEqual(self.client.get(self.url(self.queued)).status_code, 404)
        self.assertEqual(self.client.get(self.url(self.scored)).status_code, 200)

    def test_another_participant_gets_a_404(self):
        self.client.force_login(self.bob)
        self.assertEqual(self.client.get(self.url(self.queued)).status_code, 404)

    def test_an_unknown_id_is_a_404(self):
        self.client.force_login(self.alice)
        self.assertEqual(self.client.get("/submissions/999999/").status_code, 404)

    def test_the_owner_the_maintainers_and_staff_can_see_it(self):
        for user in (self.alice, self.author, self.staff):
            self.client.force_login(user)
            self.assertEqual(self.client.get(self.url(self.queued)).status_code, 200)

    def test_it_only_answers_get(self):
        self.client.force_login(self.alice)
        self.assertEqual(self.client.post(self.url(self.queued)).status_code, 405)

    # While it runs

    def test_an_unfinished_submission_refreshes_itself_and_shows_progress(self):
        Submission.objects.filter(pk=self.queued.pk).update(
            status=Submission.Status.RUNNING, progress=0.4, started_at=timezone.now()
        )
        self.client.force_login(self.alice)
        response = self.client.get(self.url(self.queued))
        self.assertContains(response, '<meta http-equiv="refresh" content="2">')
        self.assertContains(response, 'style="width: 40%"')
        self.assertContains(response, "Running")
        self.assertContains(response, "Started")

    def test_a_queued_submission_says_what_it_waits_for(self):
        Submission.objects.create(
            benchmark=self.benchmark,
            participant=self.bob,
            created_at=self.queued.created_at - timedelta(minutes=1),
        )
        self.client.force_login(self.alice)
        response = self.client.get(self.url(self.queued))
        self.assertContains(response, "waiting for a scoring worker (1 submission ahead of it)")
        self.assertNotContains(response, "sent to the queue again")

    def test_a_republished_submission_says_its_job_was_sent_again(self):
        Submission.objects.filter(pk=self.queued.pk).update(
            attempts=2, requeued_at=datetime(2026, 5, 1, 12, 30, 5, tzinfo=UTC)
        )
        self.client.force_login(self.alice)
        response = self.client.get(self.url(self.queued))
        self.assertContains(response, "its job was sent to the queue again at 12:30:05 UTC")
        self.assertContains(response, "(2 times so far)")
        self.assertContains(response, "Cancelling it now costs no quota")

    def test_the_owner_gets_a_cancel_button_while_it_is_queued(self):
        self.client.force_login(self.alice)
        cancel = reverse("submission_cancel", args=[self.queued.pk])
        self.assertContains(self.client.get(self.url(self.queued)), f'action="{cancel}"')

    def test_maintainers_get_no_cancel_button(self):
        self.client.force_login(self.author)
        cancel = reverse("submission_cancel", args=[self.queued.pk])
        self.assertNotContains(self.client.get(self.url(self.queued)), f'action="{cancel}"')

    def test_a_final_submission_does_not_refresh_and_cannot_be_cancelled(self):
        self.client.force_login(self.alice)
        response = self.client.get(self.url(self.scored))
        self.assertNotContains(response, 'http-equiv="refresh"')
        self.assertNotContains(response, reverse("submission_cancel", args=[self.scored.pk]))

    def test_a_failed_submission_shows_its_error_preformatted(self):
        Submission.objects.filter(pk=self.queued.pk).update(
            status=Submission.Status.FAILED,
            error='2 ids are missing, e.g. "test-001".\n1 id is unknown, e.g. "x".',
            finished_at=timezone.now(),
        )
        self.client.force_login(self.alice)
        response = self.client.get(self.url(self.queued))
        self.assertContains(response, '<pre class="error-text block">2 ids are missing')
        self.assertContains(response, "&quot;test-001&quot;.\n1 id is unknown")
        self.assertContains(response, "Why it failed")

    # Once scored

    def test_it_shows_metric_values_with_their_intervals(self):
        evaluation = self.evaluation("dev")
        evaluation.metrics["accuracy"]["ci"] = [0.71, 0.87]
        evaluation.save()
        self.client.force_login(self.alice)
        response = self.client.get(self.url(self.scored))
        self.assertContains(response, "0.800")
        self.assertContains(response, "[0.710, 0.870]")
        self.assertContains(response, "0.700")  # f1_macro on dev
        self.assertContains(response, "0.750")  # accuracy on test

    def test_it_shows_slices_on_a_public_split_worst_first_with_the_gap(self):
        evaluation = self.evaluation("dev")
        evaluation.slices = [cell("food", 5, 0.9), cell("service", 5, 0.6)]
        evaluation.save()
        self.client.force_login(self.alice)
        response = self.client.get(self.url(self.scored))
        content = response.content.decode()
        self.assertLess(content.index("<td>service</td>"), content.index("<td>food</td>"))
        self.assertContains(response, "−0.200")  # a real minus sign
        self.assertContains(response, "+0.100")

    def test_it_suppresses_small_slice_cells_on_a_hidden_split(self):
        evaluation = self.evaluation("test")
        evaluation.slices = [cell("food", 3, 0.123), cell("service", 7, 0.456)]
        evaluation.save()
        self.client.force_login(self.alice)
        response = self.client.get(self.url(self.scored))
        self.assertContains(response, "suppressed (too few rows on a hidden split)", count=2)
        self.assertNotContains(response, "0.123")
        self.assertNotContains(response, "0.456")

    def test_it_shows_the_confusion_matrix(self):
        evaluation = self.evaluation("dev")
        evaluation.confusion = {"labels": ["neg", "pos"], "matrix": [[41, 3], [7, 49]]}
        evaluation.save()
        self.client.force_login(self.alice)
        response = self.client.get(self.url(self.scored))
        self.assertContains(response, "Confusion matrix")
        self.assertContains(response, '<td class="num diag">41</td>', html=True)
        self.assertContains(response, '<td class="num">7</td>', html=True)

    def test_after_close_scores_are_withheld_from_the_participant(self):
        Split.objects.filter(pk=self.test_split.pk).update(reveal=Split.Reveal.AFTER_CLOSE)
        self.client.force_login(self.alice)
        response = self.client.get(self.url(self.scored))
        self.assertContains(response, "revealed after the benchmark closes")
        self.assertNotContains(response, "0.750")
        self.assertContains(response, "0.800")

    def test_maintainers_see_after_close_scores(self):
        Split.objects.filter(pk=self.test_split.pk).update(reveal=Split.Reveal.AFTER_CLOSE)
        self.client.force_login(self.author)
        self.assertContains(self.client.get(self.url(self.scored)), "0.750")

    def test_it_flags_a_disqualified_submission_with_the_authors_reason(self):
        Submission.objects.filter(pk=self.scored.pk).update(
            is_disqualified=True, moderation_reason="Trained on the test split."
        )
        self.client.force_login(self.alice)
        page = self.client.get(self.url(self.scored))
        self.assertContains(page, "<strong>Disqualified</strong>: Trained on the test split.")
        self.assertContains(page, "It is not on the leaderboard.")

    def test_it_shows_no_hidden_label(self):
        Evaluation.objects.filter(pk=self.evaluation("test").pk).update(
            confusion={"labels": ["zz-label-neg", "zz-label-pos"], "matrix": [[5, 0], [0, 5]]}
        )
        self.client.force_login(self.alice)
        content = self.client.get(self.url(self.scored)).content
        assert_no_hidden_labels(self, content, hidden_pairs(self.benchmark))
