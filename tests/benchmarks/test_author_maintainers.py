"""The maintainers picker: a search over usernames for anyone who may edit benchmarks, instead
of a list of every account on the page."""

from __future__ import annotations

from django.urls import reverse

from benchmarks.models import Benchmark
from tests.base import make_user
from tests.test_admin import AdminTestCase

SEARCH = "admin:benchmarks_benchmark_maintainers"
FIELD = {"app_label": "benchmarks", "model_name": "benchmark", "field_name": "maintainers"}


class MaintainersPickerTests(AdminTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.alicia = make_user("alicia")
        cls.gone = make_user("alison", is_active=False)

    def search(self, term: str = "", **params):
        return self.client.get(reverse(SEARCH), {**FIELD, "term": term, **params})

    def test_the_change_page_has_a_search_box_and_lists_no_other_accounts(self):
        self.client.force_login(self.author)
        response = self.client.get(self.url(Benchmark, "change", self.benchmark.pk))
        self.assertContains(response, f'data-ajax--url="{reverse(SEARCH)}"')
        self.assertContains(response, "admin-autocomplete")
        self.assertContains(response, f'<option value="{self.author.pk}" selected>author</option>')
        self.assertNotContains(response, ">alicia<")
        self.assertNotContains(response, ">bob<")

    def test_an_author_finds_active_users_by_username(self):
        self.client.force_login(self.author)
        response = self.search("ali")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(
            response.json(),
            {
                "results": [
                    {"id": str(self.alice.pk), "text": "alice"},
                    {"id": str(self.alicia.pk), "text": "alicia"},
                ],
                "pagination": {"more": False},
            },
        )

    def test_the_search_matches_usernames_only(self):
        self.bob.email = "ali@example.org"
        self.bob.save()
        self.client.force_login(self.author)
        self.assertNotIn("bob", str(self.search("ali@").json()))

    def test_it_answers_for_the_maintainers_field_only(self):
        self.client.force_login(self.author)
        response = self.search("ali", field_name="participant", model_name="submission")
        self.assertEqual(response.status_code, 403)

    def test_participants_and_anonymous_users_get_nothing(self):
        self.assertEqual(self.search("ali").status_code, 302)
        self.client.force_login(self.alice)
        self.assertEqual(self.search("ali").status_code, 302)

    def test_it_answers_only_get(self):
        self.client.force_login(self.author)
        response = self.client.post(reverse(SEARCH), FIELD)
        self.assertEqual(response.status_code, 405)

    def test_a_maintainer_picked_in_the_search_is_saved(self):
        self.client.force_login(self.author)
        data = {
            "title": self.benchmark.title,
            "slug": self.benchmark.slug,
            "visibility": "public",
            "accepted_kinds": "[]",
            "aggregate_weights": "{}",
            "maintainers": [self.author.pk, self.alicia.pk],
            "tasks-TOTAL_FORMS": "1",
            "tasks-INITIAL_FORMS": "1",
            "phases-TOTAL_FORMS": "0",
            "phases-INITIAL_FORMS": "0",
            "tasks-0-id": self.task.pk,
            "tasks-0-benchmark": self.benchmark.pk,
        }
        response = self.client.post(self.url(Benchmark, "change", self.benchmark.pk), data)
        self.assertEqual(response.status_code, 302)
        self.assertEqual(set(self.benchmark.maintainers.all()), {self.author, self.alicia})
        self.alicia.refresh_from_db()
        self.assertTrue(self.alicia.is_staff)
