"""A user's profile (how they are named, whether results are e-mailed) and their API tokens
(docs/accounts.md). The user itself is Django's `auth.User`."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Profile(models.Model):
    """Created with the account at sign-up, or on first use for older accounts
    (`services.profile_ensure`); readers treat a missing profile as the defaults."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    display_name = models.CharField(
        max_length=80,
        blank=True,
        help_text="The name shown for this user; empty: their username.",
    )
    affiliation = models.CharField(
        max_length=120, blank=True, help_text="A university, a company, a lab; optional."
    )
    email_on_result = models.BooleanField(
        default=True,
        help_text="E-mail this user when one of their submissions is scored or fails.",
    )
    awaiting_email_verification = models.BooleanField(
        default=False,
        help_text="Signed up while e-mail verification was mandatory and has not opened the "
        "link of the sign-up e-mail yet: the account stays inactive until they do.",
    )
    email_verified_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the user opened the link of their sign-up e-mail; empty: never (or "
        "they signed up while e-mail verification was off).",
    )

    def __str__(self) -> str:
        return f"Profile of {self.user}"


class ApiToken(models.Model):
    """A named key for the REST API. The key itself is shown once, when it is created, and
    never stored: only its SHA-256 digest (to find it) and its first characters (to recognise
    it in the list). Revoking a token deletes it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(
        max_length=60, help_text="What the owner calls it, e.g. the machine or script using it."
    )
    prefix = models.CharField(
        max_length=16, help_text="The key's first characters, to recognise it; not a secret."
    )
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="The last request it authenticated, to the minute; empty: never used.",
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="api_token_name_unique"),
            models.CheckConstraint(condition=~Q(name=""), name="api_token_name_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
