"""The API tokens page: create a named token and see its key once, list, revoke."""

from django.urls import reverse

from accounts.keys import key_digest
from accounts.models import ApiToken
from accounts.services import MAX_API_TOKENS, api_token_create
from accounts.views import NEW_KEY_SESSION
from tests.base import PlatformTestCase


class ApiTokenPageTests(PlatformTestCase):
    url = reverse("api_tokens")

    def create(self, name: str = "laptop"):
        return self.client.post(self.url, {"name": name}, follow=True)

    def test_anonymous_users_are_sent_to_log_in(self):
        login = f"{reverse('login')}?next={self.url}"
        self.assertRedirects(self.client.get(self.url), login)
        self.assertRedirects(self.client.post(self.url, {"name": "x"}), login)
        self.assertFalse(ApiToken.objects.exists())

    def test_a_user_without_tokens_sees_the_form_and_how_to_use_a_token(self):
        self.client.force_login(self.alice)
        response = self.client.get(self.url)
        self.assertContains(response, 'name="name"')
        self.assertContains(response, "Authorization: Token &lt;key&gt;")
        self.assertContains(response, "No tokens yet.")

    def test_a_new_key_is_shown_once_then_never_again(self):
        self.client.force_login(self.alice)
        response = self.create("laptop")
        self.assertRedirects(response, self.url)
        token = ApiToken.objects.get(user=self.alice)
        key = response.context["new_key"]
        self.assertTrue(key.startswith(token.prefix))
        self.assertEqual(token.digest, key_digest(key))
        self.assertContains(response, key, count=1)
        self.assertContains(response, "shown only this once")
        self.assertIn("no-store", response["Cache-Control"])
        self.assertNotIn(NEW_KEY_SESSION, self.client.session)

        again = self.client.get(self.url)
        self.assertNotContains(again, key)
        self.assertNotContains(again, "shown only this once")
        for page in (response, again):
            self.assertNotContains(page, token.digest)
        self.assertContains(again, f"{token.prefix}…")

    def test_the_list_shows_name_prefix_dates_and_a_revoke_form_of_own_tokens_only(self):
        mine, _ = api_token_create(user=self.alice, name="cluster")
        theirs, _ = api_token_create(user=self.bob, name="bobs-laptop")
        self.client.force_login(self.alice)
        response = self.client.get(self.url)
        self.assertContains(response, "cluster")
        self.assertContains(response, mine.prefix)
        self.assertContains(response, "never")  # last used
        self.assertContains(response, mine.created_at.strftime("%Y-%m-%d"))
        self.assertContains(response, reverse("api_token_revoke", args=[mine.pk]))
        self.assertNotContains(response, "bobs-laptop")
        self.assertNotContains(response, theirs.prefix)
        self.assertNotContains(response, reverse("api_token_revoke", args=[theirs.pk]))

    def test_a_name_used_twice_or_empty_is_refused_with_a_reason(self):
        self.client.force_login(self.alice)
        self.create("laptop")
        response = self.create("laptop")
        self.assertContains(response, "You already have a token named &#x27;laptop&#x27;")
        self.assertIsNone(response.context["new_key"])
        self.assertContains(self.create("   "), "field-error")
        self.assertEqual(ApiToken.objects.filter(user=self.alice).count(), 1)

    def test_another_user_may_use_the_same_name(self):
        api_token_create(user=self.bob, name="laptop")
        self.client.force_login(self.alice)
        self.create("laptop")
        self.assertEqual(ApiToken.objects.filter(name="laptop").count(), 2)

    def test_an_account_has_at_most_a_few_tokens(self):
        for n in range(MAX_API_TOKENS):
            api_token_create(user=self.alice, name=f"t{n}")
        self.client.force_login(self.alice)
        response = self.create("one-more")
        self.assertContains(response, "the most an account may have")
        self.assertEqual(ApiToken.objects.filter(user=self.alice).count(), MAX_API_TOKENS)

    def test_it_answers_only_get_and_post(self):
        self.client.force_login(self.alice)
        self.assertEqual(self.client.put(self.url).status_code, 405)


class ApiTokenRevokeTests(PlatformTestCase):
    def setUp(self):
        self.token, self.key = api_token_create(user=self.alice, name="laptop")
        self.url = reverse("api_token_revoke", args=[self.token.pk])

    def test_the_owner_revokes_a_token(self):
        self.client.force_login(self.alice)
        response = self.client.post(self.url, follow=True)
        self.assertRedirects(response, reverse("api_tokens"))
        self.assertContains(response, "Token &#x27;laptop&#x27; revoked")
        self.assertFalse(ApiToken.objects.filter(pk=self.token.pk).exists())
        self.assertNotContains(response, self.key)

    def test_another_user_gets_a_404_and_the_token_stays(self):
        self.client.force_login(self.bob)
        self.assertEqual(self.client.post(self.url).status_code, 404)
        self.assertTrue(ApiToken.objects.filter(pk=self.token.pk).exists())

    def test_staff_cannot_revoke_someone_elses_token_on_this_page_either(self):
        self.client.force_login(self.staff)
        self.assertEqual(self.client.post(self.url).status_code, 404)

    def test_an_unknown_token_is_a_404(self):
        self.client.force_login(self.alice)
        missing = reverse("api_token_revoke", args=[self.token.pk + 1000])
        self.assertEqual(self.client.post(missing).status_code, 404)

    def test_it_takes_a_post(self):
        self.client.force_login(self.alice)
        self.assertEqual(self.client.get(self.url).status_code, 405)
        self.assertTrue(ApiToken.objects.filter(pk=self.token.pk).exists())

    def test_anonymous_users_are_sent_to_log_in(self):
        response = self.client.post(self.url)
        self.assertRedirects(response, f"{reverse('login')}?next={self.url}")
        self.assertTrue(ApiToken.objects.filter(pk=self.token.pk).exists())

    def test_a_forged_post_without_the_csrf_token_is_refused(self):
        client = self.client_class(enforce_csrf_checks=True)
        client.force_login(self.alice)
        self.assertEqual(client.post(self.url).status_code, 403)
        self.assertTrue(ApiToken.objects.filter(pk=self.token.pk).exists())
