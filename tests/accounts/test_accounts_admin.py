"""Profiles and API tokens in the admin: tokens are read-only there (revoking deletes them), and
no page shows a key's digest."""

from django.urls import reverse

from accounts.models import ApiToken, Profile
from accounts.services import api_token_create
from benchmarks.authors import author_grant
from tests.base import PlatformTestCase


class AccountsAdminTests(PlatformTestCase):
    def setUp(self):
        self.token, self.key = api_token_create(user=self.alice, name="laptop")
        self.client.force_login(self.staff)

    def test_the_token_list_shows_name_owner_and_prefix_but_no_digest(self):
        response = self.client.get(reverse("admin:accounts_apitoken_changelist"))
        self.assertContains(response, "laptop")
        self.assertContains(response, self.token.prefix)
        self.assertNotContains(response, self.token.digest)
        self.assertNotContains(response, self.key)

    def test_a_token_is_read_only_and_its_digest_is_not_shown(self):
        url = reverse("admin:accounts_apitoken_change", args=[self.token.pk])
        response = self.client.get(url)
        self.assertEqual(response.status_code, 200)
        self.assertNotContains(response, self.token.digest)
        self.assertNotContains(response, 'name="name"')
        self.client.post(url, {"name": "renamed", "user": self.bob.pk})
        self.token.refresh_from_db()
        self.assertEqual((self.token.name, self.token.user), ("laptop", self.alice))

    def test_tokens_are_not_added_in_the_admin(self):
        response = self.client.get(reverse("admin:accounts_apitoken_add"))
        self.assertEqual(response.status_code, 403)

    def test_staff_revoke_a_token_by_deleting_it(self):
        url = reverse("admin:accounts_apitoken_delete", args=[self.token.pk])
        self.client.post(url, {"post": "yes"})
        self.assertFalse(ApiToken.objects.filter(pk=self.token.pk).exists())

    def test_profiles_are_edited_in_the_admin(self):
        profile = Profile.objects.create(user=self.bob)
        url = reverse("admin:accounts_profile_change", args=[profile.pk])
        data = {"user": self.bob.pk, "display_name": "Bob B.", "affiliation": "Lab"}
        self.assertEqual(self.client.post(url, data).status_code, 302)
        profile.refresh_from_db()
        self.assertEqual(profile.display_name, "Bob B.")
        self.assertFalse(profile.email_on_result)  # the box was not ticked

    def test_benchmark_authors_see_neither(self):
        author_grant(self.author)  # staff, with the authors' permissions only
        self.client.force_login(self.author)
        for name in ("admin:accounts_apitoken_changelist", "admin:accounts_profile_changelist"):
            self.assertEqual(self.client.get(reverse(name)).status_code, 403, name)
