"""A participant's paper and code links: given with the upload (form or API), checked as web
addresses, shown in the board's rows on the page, in the API and in the exports."""

from __future__ import annotations

from django.urls import reverse

from submissions.models import Submission
from tests.base import PlatformTestCase, gold_rows, make_scored_submission, prediction_csv, upload

PAPER = "https://arxiv.org/abs/2401.00001"
CODE = "https://github.com/alice/sst-model"


class BoardLinksTests(PlatformTestCase):
    def setUp(self):
        self.csv = prediction_csv(gold_rows(self.benchmark))

    def test_links_given_through_the_api_are_stored(self):
        self.client.force_login(self.alice)
        response = self.client.post(
            reverse("api-submission-create", args=["sentiment"]),
            {"file": upload(self.csv), "paper_url": PAPER, "code_url": CODE},
        )
        self.assertEqual(response.status_code, 201, response.content)
        submission = Submission.objects.get(pk=response.json()["id"])
        self.assertEqual((submission.paper_url, submission.code_url), (PAPER, CODE))

    def test_only_web_addresses_are_taken(self):
        self.client.force_login(self.alice)
        for bad in ("javascript:alert(1)", "ftp://example.org/x", "not a link"):
            response = self.client.post(
                reverse("api-submission-create", args=["sentiment"]),
                {"file": upload(self.csv), "paper_url": bad},
            )
            errors = self.assert_errors(response, 400)
            self.assertTrue(any("paper_url" in e or "URL" in e for e in errors), errors)
            page = self.client.post(
                reverse("submission_create", args=["sentiment"]),
                {"file": upload(self.csv), "code_url": bad},
            )
            self.assertEqual(page.status_code, 400)
            self.assertContains(page, "Enter a valid URL", status_code=400)
        self.assertFalse(Submission.objects.exists())

    def test_rows_link_them_on_the_page_in_the_api_and_in_exports(self):
        make_scored_submission(
            self.benchmark,
            self.alice,
            {"test": {"accuracy": 0.8}},
            paper_url=PAPER,
            code_url=CODE,
        )
        make_scored_submission(self.benchmark, self.bob, {"test": {"accuracy": 0.7}})
        page = self.client.get(reverse("leaderboard", args=["sentiment"]))
        self.assertContains(page, f'href="{PAPER}" rel="nofollow noopener noreferrer"')
        self.assertContains(page, f'href="{CODE}" rel="nofollow noopener noreferrer"')
        rows = self.client.get(reverse("api-leaderboard", args=["sentiment"])).json()["rows"]
        self.assertEqual(
            [(r["participant"], r["paper_url"], r["code_url"]) for r in rows],
            [("alice", PAPER, CODE), ("bob", "", "")],
        )
        exported = self.client.get(reverse("leaderboard_export", args=["sentiment", "json"])).json()
        self.assertEqual(
            [(r["paper_url"], r["code_url"], r["model_url"]) for r in exported["rows"]],
            [(PAPER, CODE, None), ("", "", None)],
        )
