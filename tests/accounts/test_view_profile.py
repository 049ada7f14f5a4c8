from django.contrib.auth import get_user_model
from django.urls import reverse

from accounts.models import Profile
from accounts.selectors import display_name, wants_result_email
from tests.base import PlatformTestCase

User = get_user_model()


class ProfileViewTests(PlatformTestCase):
    url = reverse("profile")

    def test_anonymous_users_are_sent_to_log_in(self):
        self.assertRedirects(self.client.get(self.url), f"{reverse('login')}?next={self.url}")
        self.assertRedirects(self.client.post(self.url), f"{reverse('login')}?next={self.url}")

    def test_an_account_older_than_profiles_gets_one_with_the_defaults(self):
        self.assertFalse(Profile.objects.filter(user=self.alice).exists())
        self.client.force_login(self.alice)
        response = self.client.get(self.url)
        self.assertContains(response, "alice")
        self.assertContains(response, 'name="display_name"')
        self.assertContains(response, "E-mail me when a submission is scored or fails")
        self.assertRegex(
            response.content.decode(),
            r'<input type="checkbox" name="email_on_result"[^>]* checked>',
        )
        self.assertContains(response, reverse("password_change"))
        self.assertTrue(Profile.objects.get(user=self.alice).email_on_result)

    def test_saving_changes_the_own_profile_only(self):
        self.client.force_login(self.alice)
        data = {"display_name": "  Alice A. ", "affiliation": "Example Lab"}  # box unticked
        response = self.client.post(self.url, data, follow=True)
        self.assertRedirects(response, self.url)
        self.assertContains(response, "Profile saved.")
        profile = Profile.objects.get(user=self.alice)
        self.assertEqual(profile.display_name, "Alice A.")
        self.assertEqual(profile.affiliation, "Example Lab")
        self.assertFalse(profile.email_on_result)
        self.assertFalse(Profile.objects.filter(user=self.bob).exists())

    def test_a_too_long_name_is_explained(self):
        self.client.force_login(self.alice)
        response = self.client.post(self.url, {"display_name": "x" * 81, "email_on_result": "on"})
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "field-error")
        self.assertEqual(Profile.objects.get(user=self.alice).display_name, "")

    def test_it_answers_only_get_and_post(self):
        self.client.force_login(self.alice)
        self.assertEqual(self.client.put(self.url).status_code, 405)


class ProfileSelectorTests(PlatformTestCase):
    def test_display_name_is_the_profile_name_else_the_username(self):
        self.assertEqual(display_name(self.alice), "alice")
        Profile.objects.create(user=self.bob, display_name="Bob B.")
        self.assertEqual(display_name(User.objects.get(pk=self.bob.pk)), "Bob B.")
        Profile.objects.create(user=self.author, display_name="")
        self.assertEqual(display_name(User.objects.get(pk=self.author.pk)), "author")

    def test_result_emails_need_an_address_and_are_on_unless_turned_off(self):
        self.assertFalse(wants_result_email(self.alice))  # no address
        User.objects.filter(pk__in=[self.alice.pk, self.bob.pk]).update(email="x@example.org")
        self.assertTrue(wants_result_email(User.objects.get(pk=self.alice.pk)))  # no profile
        Profile.objects.create(user=self.bob, email_on_result=False)
        self.assertFalse(wants_result_email(User.objects.get(pk=self.bob.pk)))

    def test_an_inactive_account_gets_no_result_email(self):
        User.objects.filter(pk=self.alice.pk).update(email="a@example.org", is_active=False)
        self.assertFalse(wants_result_email(User.objects.get(pk=self.alice.pk)))
