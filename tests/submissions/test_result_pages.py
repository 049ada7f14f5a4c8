"""Public result pages: a submission shown on a board can be opened by anyone who can see that
board (page and API), with its description as sanitised markdown and its provenance; its owner
may keep it private. Hidden-split rules still hold on these pages."""

from __future__ import annotations

from django.urls import reverse
from rest_framework.authtoken.models import Token

from benchmarks.models import Benchmark
from submissions.models import Submission
from tests.base import (
    PlatformTestCase,
    assert_no_hidden_labels,
    gold_rows,
    hidden_pairs,
    make_benchmark,
    make_scored_submission,
    prediction_csv,
    upload,
)

DESCRIPTION = (
    "Fine-tuned *tiny* model. Paper: https://arxiv.org/abs/2101.00001 and "
    "[code](https://github.com/example/model).\n\n<script>alert('x')</script>"
    "[bad](javascript:alert(1))"
)


def cells(*values):
    return [
        {"slice": "topic", "cell": name, "n": n, "metrics": {"accuracy": {"value": v, "ci": None}}}
        for name, n, v in values
    ]


class ResultPageTests(PlatformTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.scored = make_scored_submission(
            cls.benchmark,
            cls.alice,
            {"dev": {"accuracy": 0.8}, "test": {"accuracy": 0.75}},
            name="alice-model",
            description=DESCRIPTION,
        )
        cls.private = make_scored_submission(
            cls.benchmark, cls.alice, {"dev": {"accuracy": 0.9}}, name="secret-run", is_private=True
        )
        cls.hidden = make_scored_submission(
            cls.benchmark, cls.alice, {"dev": {"accuracy": 0.7}}, name="hidden-run", is_hidden=True
        )
        cls.queued = Submission.objects.create(
            benchmark=cls.benchmark, participant=cls.alice, name="queued-run"
        )

    def page(self, submission, user=None):
        self.client.logout()
        if user is not None:
            self.client.force_login(user)
        return self.client.get(reverse("submission_detail", args=[submission.pk]))

    def api(self, submission, user=None):
        self.client.logout()
        headers = {}
        if user is not None:
            headers["Authorization"] = f"Token {Token.objects.get_or_create(user=user)[0].key}"
        return self.client.get(f"/api/v1/submissions/{submission.pk}/", headers=headers)

    def test_a_submission_on_the_board_is_open_to_everyone_who_can_see_the_board(self):
        for user in (None, self.bob, self.alice, self.author):
            response = self.page(self.scored, user)
            self.assertEqual(response.status_code, 200, user)
            self.assertContains(response, "alice-model")
            self.assertEqual(self.api(self.scored, user).status_code, 200, user)

    def test_the_board_links_every_row_to_its_result_page(self):
        response = self.client.get(reverse("leaderboard", args=[self.benchmark.slug]))
        link = reverse("submission_detail", args=[self.scored.pk])
        self.assertContains(response, f'href="{link}"')

    def test_private_hidden_and_unfinished_submissions_stay_with_their_insiders(self):
        for submission in (self.private, self.hidden, self.queued):
            for outsider in (None, self.bob):
                self.assertEqual(self.page(submission, outsider).status_code, 404)
                self.assert_errors(self.api(submission, outsider), 404)
            for insider in (self.alice, self.author, self.staff):
                self.assertEqual(self.page(submission, insider).status_code, 200)
                self.assertEqual(self.api(submission, insider).status_code, 200)

    def test_a_private_submission_is_off_the_public_board_and_its_api(self):
        response = self.client.get(f"/api/v1/benchmarks/{self.benchmark.slug}/leaderboard/")
        ids = [row["submission"] for row in response.json()["rows"]]
        self.assertIn(self.scored.pk, ids)
        self.assertNotIn(self.private.pk, ids)
        self.assertNotContains(
            self.client.get(reverse("leaderboard", args=[self.benchmark.slug])), "secret-run"
        )

    def test_a_private_benchmark_keeps_its_result_pages_private(self):
        closed = make_benchmark("closed-bench", visibility=Benchmark.Visibility.PRIVATE)
        submission = make_scored_submission(closed, self.alice, {"dev": {"accuracy": 0.5}})
        self.assertEqual(self.page(submission, self.bob).status_code, 404)
        self.assertEqual(self.page(submission, None).status_code, 404)
        self.assertEqual(self.page(submission, self.alice).status_code, 200)

    def test_the_description_is_sanitised_markdown_with_clickable_links(self):
        response = self.page(self.scored, self.bob)
        html = response.content.decode()
        self.assertIn('href="https://arxiv.org/abs/2101.00001"', html)
        self.assertIn('href="https://github.com/example/model"', html)
        self.assertIn("<em>tiny</em>", html)
        self.assertNotIn("<script>alert", html)
        self.assertNotIn("javascript:", html)

    def test_the_page_and_api_show_provenance(self):
        dev = self.scored.evaluations.get(split__name="dev")
        dev.provenance = {
            "split": {"name": "dev", "fingerprint": "f" * 64, "rows": 10, "path": "/srv/x"},
            "metrics": {"accuracy": "1.0"},
            "libraries": {"numpy": "2.0"},
            "resamples": 1000,
            "seed": 0,
            "scorer_version": 3,
            "worker_host": "gpu-7",
        }
        dev.save()
        html = self.page(self.scored, self.bob).content.decode()
        self.assertIn("f" * 64, html)
        self.assertIn("numpy 2.0", html)
        body = self.api(self.scored, self.bob).json()
        (shown,) = [e for e in body["evaluations"] if e["split"] == "dev"]
        self.assertEqual(shown["provenance"]["split"]["fingerprint"], "f" * 64)
        self.assertEqual(shown["provenance"]["libraries"], {"numpy": "2.0"})
        # Whitelisted: nothing about the machine or the files behind the numbers.
        self.assertNotIn("/srv/x", str(body))
        self.assertNotIn("gpu-7", str(body))
        self.assertEqual(body["participant"], "alice")
        self.assertFalse(body["is_private"])

    def test_outsiders_see_no_cancel_or_privacy_buttons(self):
        html = self.page(self.scored, self.bob).content.decode()
        self.assertNotIn(reverse("submission_privacy", args=[self.scored.pk]), html)
        html = self.page(self.scored, self.alice).content.decode()
        self.assertIn(reverse("submission_privacy", args=[self.scored.pk]), html)


class PrivacyTests(PlatformTestCase):
    def setUp(self):
        self.submission = make_scored_submission(
            self.benchmark, self.alice, {"dev": {"accuracy": 0.8}}, name="mine"
        )
        self.url = reverse("submission_privacy", args=[self.submission.pk])

    def test_the_owner_keeps_it_private_and_public_again_from_the_page(self):
        self.client.force_login(self.alice)
        self.client.post(self.url, {"private": "1"})
        self.submission.refresh_from_db()
        self.assertTrue(self.submission.is_private)
        self.client.force_login(self.bob)
        detail = reverse("submission_detail", args=[self.submission.pk])
        self.assertEqual(self.client.get(detail).status_code, 404)
        self.client.force_login(self.alice)
        self.client.post(self.url, {"private": "0"})
        self.submission.refresh_from_db()
        self.assertFalse(self.submission.is_private)

    def test_others_cannot_change_it(self):
        self.client.force_login(self.bob)
        self.assertEqual(self.client.post(self.url, {"private": "1"}).status_code, 403)
        self.submission.refresh_from_db()
        self.assertFalse(self.submission.is_private)

    def test_the_api_sets_it_and_refuses_a_bad_body(self):
        self.client.force_login(self.alice)
        url = f"/api/v1/submissions/{self.submission.pk}/privacy/"
        response = self.client.post(url, {"private": True}, content_type="application/json")
        self.assertEqual(response.status_code, 200, response.content)
        self.assertTrue(response.json()["is_private"])
        self.assert_errors(
            self.client.post(url, {"private": "maybe"}, content_type="application/json"), 400
        )
        self.client.force_login(self.bob)
        response = self.client.post(url, {"private": False}, content_type="application/json")
        self.assertIn(response.status_code, (403, 404))
        self.submission.refresh_from_db()
        self.assertTrue(self.submission.is_private)

    def test_a_submission_can_be_private_from_the_start(self):
        self.client.force_login(self.alice)
        rows = gold_rows(self.benchmark)
        response = self.client.post(
            f"/api/v1/benchmarks/{self.benchmark.slug}/submissions/",
            {"file": upload(prediction_csv(rows)), "private": "true"},
        )
        self.assertEqual(response.status_code, 201, response.content)
        self.assertTrue(Submission.objects.get(pk=response.json()["id"]).is_private)


class HiddenSplitOnResultPagesTests(PlatformTestCase):
    def test_a_public_result_page_carries_no_hidden_label_and_no_small_cell(self):
        submission = make_scored_submission(
            self.benchmark, self.alice, {"test": {"accuracy": 0.6}}, name="on-board"
        )
        evaluation = submission.evaluations.get()
        # 10 hidden rows: 5 per topic, both under MIN_SLICE_SIZE.
        evaluation.slices = cells(("food", 5, 0.123456), ("service", 5, 0.654321))
        evaluation.save()
        pairs = hidden_pairs(self.benchmark)
        for user in (None, self.bob):
            self.client.logout()
            if user:
                self.client.force_login(user)
            page = self.client.get(reverse("submission_detail", args=[submission.pk]))
            api = self.client.get(f"/api/v1/submissions/{submission.pk}/")
            breakdown = self.client.get(f"/api/v1/submissions/{submission.pk}/breakdown/")
            for response in (page, api, breakdown):
                self.assertEqual(response.status_code, 200)
                body = response.content.decode()
                self.assertNotIn("0.123", body)
                self.assertNotIn("0.654", body)
                assert_no_hidden_labels(self, body, pairs)
