from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm

from accounts.models import ApiToken, Profile
from accounts.selectors import email_taken
from accounts.services import DUPLICATE_EMAIL


class SignupForm(UserCreationForm):
    """Username, e-mail address (required, one account per address whatever its case) and the
    password twice."""

    email = forms.EmailField(
        label="E-mail address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        help_text="For password resets and, if you wish, your results. Never shown to others.",
    )

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    def clean_email(self) -> str:
        email = get_user_model().objects.normalize_email(self.cleaned_data["email"])
        if email_taken(email):
            raise forms.ValidationError(DUPLICATE_EMAIL, code="duplicate_email")
        return email


class EmailForm(forms.Form):
    email = forms.EmailField(
        label="E-mail address",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )


class ProfileForm(forms.ModelForm):
    class Meta:
        model = Profile
        fields = ("display_name", "affiliation", "email_on_result")
        labels = {"email_on_result": "E-mail me when a submission is scored or fails"}
        help_texts = {
            "display_name": "Shown instead of your username; leave empty to use your username.",
            "affiliation": "A university, a company, a lab.",
        }


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        max_length=ApiToken._meta.get_field("name").max_length,
        help_text="Where it will be used, e.g. “laptop” or “cluster”.",
    )
