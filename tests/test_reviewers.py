"""Reviewers: a read-only role per benchmark. A reviewer sees what its maintainers see (the
private benchmark, every submission with its errors, boards before an `after_close` split is
revealed) and changes nothing: the participant's actions answer 403, the admin lets them edit
nothing. Anyone else still sees nothing."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from benchmarks.access import can_maintain, can_review
from benchmarks.authors import author_grant
from benchmarks.models import Benchmark, Split
from submissions.models import Submission
from tests.base import make_benchmark, make_scored_submission, make_user
from tests.test_admin import AdminTestCase

SECRET_SCORE = 0.8123  # on the withheld split only


class ReviewerTestCase(AdminTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        # A reviewer with no other role, and one who authors another benchmark (staff: the
        # admin is open to them, for their own benchmark only).
        cls.reviewer = make_user("rita")
        cls.staff_reviewer = cls.rival
        cls.private = make_benchmark(
            "private-bench", visibility=Benchmark.Visibility.PRIVATE, maintainers=(cls.author,)
        )
        for benchmark in (cls.benchmark, cls.private):
            benchmark.reviewers.set([cls.reviewer, cls.staff_reviewer])
        scores = {"dev": {"accuracy": 0.7}, "test": {"accuracy": SECRET_SCORE}}
        cls.on_private = make_scored_submission(cls.private, cls.alice, scores, name="secret")
        cls.kept_private = make_scored_submission(
            cls.benchmark, cls.alice, scores, name="kept-private", is_private=True
        )
        cls.failed = Submission.objects.create(
            benchmark=cls.benchmark,
            participant=cls.alice,
            status=Submission.Status.FAILED,
            error="Row 3: unknown label 'maybe'.",
            original_filename="bad.csv",
        )
        cls.queued = Submission.objects.create(
            benchmark=cls.benchmark, participant=cls.alice, original_filename="predictions.csv"
        )

    def login(self, user):
        self.client.force_login(user)


class ReviewerAccessTests(ReviewerTestCase):
    def test_reviewers_review_but_do_not_maintain(self):
        self.assertTrue(can_review(self.reviewer, self.private))
        self.assertFalse(can_maintain(self.reviewer, self.private))
        self.assertTrue(can_review(self.author, self.private))
        self.assertTrue(can_review(self.root, self.private))
        self.assertFalse(can_review(self.bob, self.private))
        # Being staff (every author is) is not enough.
        author = make_user("ann")
        author_grant(author)
        self.assertFalse(can_review(author, self.private))

    def test_a_reviewer_sees_the_private_benchmark_listed_and_its_page(self):
        self.login(self.reviewer)
        self.assertIn(self.private, Benchmark.objects.visible_to(self.reviewer))
        self.assertContains(self.client.get(reverse("benchmark_list")), "private-bench")
        url = reverse("benchmark_detail", args=["private-bench"])
        self.assertEqual(self.client.get(url).status_code, 200)
        api = reverse("api-benchmark-detail", args=["private-bench"])
        self.assertEqual(self.client.get(api).status_code, 200)

    def test_a_reviewer_sees_a_private_submissions_page_and_api(self):
        self.login(self.reviewer)
        for submission in (self.on_private, self.kept_private):
            with self.subTest(submission=submission.name):
                page = self.client.get(reverse("submission_detail", args=[submission.pk]))
                self.assertContains(page, submission.name)
                self.assertTrue(page.context["is_insider"])
                self.assertFalse(page.context["is_owner"])
                api = self.client.get(reverse("api-submission-detail", args=[submission.pk]))
                self.assertEqual(api.status_code, 200)
                self.assertEqual(api.json()["name"], submission.name)

    def test_a_reviewer_sees_a_failed_submissions_error_and_a_queued_one(self):
        self.login(self.reviewer)
        page = self.client.get(reverse("submission_detail", args=[self.failed.pk]))
        self.assertContains(page, "unknown label")
        api = self.client.get(reverse("api-submission-detail", args=[self.failed.pk]))
        self.assertEqual(api.json()["error"], self.failed.error)
        queued = self.client.get(reverse("submission_detail", args=[self.queued.pk]))
        self.assertEqual(queued.status_code, 200)

    def test_a_non_reviewer_still_sees_nothing(self):
        self.login(self.bob)
        for name in ("benchmark_detail", "leaderboard"):
            url = reverse(name, args=["private-bench"])
            self.assertEqual(self.client.get(url).status_code, 404, name)
        self.assertNotContains(self.client.get(reverse("benchmark_list")), "private-bench")
        for submission in (self.on_private, self.kept_private, self.failed, self.queued):
            with self.subTest(submission=submission.pk):
                page = self.client.get(reverse("submission_detail", args=[submission.pk]))
                self.assertEqual(page.status_code, 404)
                api = self.client.get(reverse("api-submission-detail", args=[submission.pk]))
                self.assertEqual(api.status_code, 404)

    def test_reviewing_one_benchmark_shows_nothing_of_another(self):
        hidden = make_benchmark("elsewhere", visibility=Benchmark.Visibility.PRIVATE)
        theirs = make_scored_submission(hidden, self.bob, {"dev": {"accuracy": 0.5}})
        self.login(self.reviewer)
        self.assertEqual(
            self.client.get(reverse("benchmark_detail", args=["elsewhere"])).status_code, 404
        )
        url = reverse("submission_detail", args=[theirs.pk])
        self.assertEqual(self.client.get(url).status_code, 404)


class ReviewerBoardTests(ReviewerTestCase):
    """A board withheld until the close (an `after_close` split) is shown to reviewers."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.test_split.reveal = Split.Reveal.AFTER_CLOSE
        cls.test_split.save()
        cls.benchmark.closes_at = timezone.now() + timedelta(days=3)
        cls.benchmark.save()
        cls.bobs = make_scored_submission(
            cls.benchmark, cls.bob, {"test": {"accuracy": SECRET_SCORE}}
        )

    def requests(self) -> dict:
        query = {"task": "sst", "split": "test"}
        slug = self.benchmark.slug
        return {
            "page": self.client.get(reverse("leaderboard", args=[slug]), query),
            "api": self.client.get(reverse("api-leaderboard", args=[slug]), query),
            "api export": self.client.get(reverse("api-leaderboard-export", args=[slug]), query),
            "history": self.client.get(reverse("api-leaderboard-history", args=[slug]), query),
        }

    def test_a_reviewer_sees_a_withheld_board(self):
        self.login(self.reviewer)
        answers = self.requests()
        for name, answer in answers.items():
            self.assertEqual(answer.status_code, 200, name)
        self.assertFalse(answers["page"].context["withheld"])
        self.assertIn(str(SECRET_SCORE)[:5], answers["api"].content.decode())

    def test_a_reviewer_sees_withheld_scores_on_a_submission(self):
        url = reverse("api-submission-detail", args=[self.bobs.pk])
        self.login(self.reviewer)
        [evaluation] = self.client.get(url).json()["evaluations"]
        self.assertFalse(evaluation["withheld"])
        self.assertEqual(evaluation["metrics"]["accuracy"]["value"], SECRET_SCORE)
        self.login(self.alice)
        [evaluation] = self.client.get(url).json()["evaluations"]
        self.assertTrue(evaluation["withheld"])

    def test_the_board_stays_withheld_from_participants(self):
        self.login(self.alice)
        answers = self.requests()
        self.assertTrue(answers["page"].context["withheld"])
        for name in ("api", "api export", "history"):
            self.assertEqual(answers[name].status_code, 403, name)
        for name, answer in answers.items():
            self.assertNotIn(str(SECRET_SCORE), answer.content.decode(), name)


class ReviewerWritesTests(ReviewerTestCase):
    """Every write a reviewer might try: refused, and nothing changed."""

    def test_a_reviewer_cannot_cancel_or_make_private(self):
        self.login(self.reviewer)
        posts = [
            (reverse("submission_cancel", args=[self.queued.pk]), {}),
            (reverse("submission_privacy", args=[self.kept_private.pk]), {"private": "0"}),
            (reverse("api-submission-cancel", args=[self.queued.pk]), {}),
            (reverse("api-submission-privacy", args=[self.kept_private.pk]), {"private": False}),
        ]
        for url, data in posts:
            with self.subTest(url=url):
                self.assertEqual(self.client.post(url, data).status_code, 403)
        self.queued.refresh_from_db()
        self.kept_private.refresh_from_db()
        self.assertEqual(self.queued.status, Submission.Status.QUEUED)
        self.assertTrue(self.kept_private.is_private)

    def test_a_reviewer_without_the_admin_is_sent_to_its_login(self):
        self.login(self.reviewer)
        for model, obj in [(Benchmark, self.private), (Submission, self.on_private)]:
            response = self.client.get(self.url(model, "change", obj.pk))
            self.assertEqual(response.status_code, 302)
            self.assertIn(reverse("admin:login"), response["Location"])

    def test_an_author_reviewing_a_benchmark_edits_nothing_of_it_in_the_admin(self):
        author_grant(self.staff_reviewer)
        self.login(self.staff_reviewer)
        objects = [
            (Benchmark, self.private, {"title": "changed"}),
            (type(self.task), self.task, {"title": "changed"}),
            (Submission, self.mine, {"is_disqualified": "on", "moderation_reason": "x"}),
        ]
        for model, obj, data in objects:
            with self.subTest(model=model.__name__):
                url = self.url(model, "change", obj.pk)
                self.assertRedirects(self.client.get(url), reverse("admin:index"))
                self.assertEqual(self.client.post(url, data).status_code, 302)
        self.private.refresh_from_db()
        self.task.refresh_from_db()
        self.mine.refresh_from_db()
        self.assertEqual(self.private.title, "Private-Bench")
        self.assertNotEqual(self.task.title, "changed")
        self.assertFalse(self.mine.is_disqualified)
        self.assertEqual(self.mine.moderation_reason, "")
        listed = self.client.get(self.url(Submission)).context["cl"].queryset
        self.assertNotIn(self.mine, listed)

    def test_an_author_reviewing_a_benchmark_cannot_act_on_its_submissions(self):
        author_grant(self.staff_reviewer)
        self.login(self.staff_reviewer)
        data = {"action": "rescore", "_selected_action": [self.mine.pk]}
        with self.captureOnCommitCallbacks() as callbacks:
            self.client.post(self.url(Submission), data)
        self.assertEqual(callbacks, [])


class ReviewerPickerTests(ReviewerTestCase):
    def test_a_maintainer_picks_reviewers_who_get_no_admin(self):
        self.login(self.author)
        response = self.client.get(self.url(Benchmark, "change", self.benchmark.pk))
        self.assertContains(response, 'name="reviewers"')
        search = reverse("admin:benchmarks_benchmark_maintainers")
        field = {"app_label": "benchmarks", "model_name": "benchmark", "field_name": "reviewers"}
        found = self.client.get(search, {**field, "term": "bo"}).json()["results"]
        self.assertEqual(found, [{"id": str(self.bob.pk), "text": "bob"}])

        data = {
            "title": self.benchmark.title,
            "slug": self.benchmark.slug,
            "visibility": "public",
            "accepted_kinds": "[]",
            "aggregate_weights": "{}",
            "maintainers": [self.author.pk],
            "reviewers": [self.bob.pk],
            "tasks-TOTAL_FORMS": "1",
            "tasks-INITIAL_FORMS": "1",
            "phases-TOTAL_FORMS": "0",
            "phases-INITIAL_FORMS": "0",
            "tasks-0-id": self.task.pk,
            "tasks-0-benchmark": self.benchmark.pk,
        }
        response = self.client.post(self.url(Benchmark, "change", self.benchmark.pk), data)
        self.assertEqual(response.status_code, 302)
        self.assertEqual(list(self.benchmark.reviewers.all()), [self.bob])
        self.bob.refresh_from_db()
        self.assertFalse(self.bob.is_staff)
