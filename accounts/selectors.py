"""Reads about accounts, for pages, the API and other apps (which import only this module and
`services`): how to name a user, whether to e-mail them a result, their API tokens."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from accounts.keys import is_platform_key, key_digest
from accounts.models import ApiToken, Profile


def _profile_or_none(user) -> Profile | None:
    try:
        return user.profile  # cached on the user once read
    except Profile.DoesNotExist:
        return None


def display_name(user) -> str:
    """The name to show for `user`: their profile's display name, else their username. Callers
    that name many users load their profiles with `select_related("profile")`."""
    profile = _profile_or_none(user)
    return (profile.display_name if profile else "") or user.get_username()


def wants_result_email(user) -> bool:
    """Whether to e-mail `user` when one of their submissions is scored or fails: an active
    account with an address, and the profile's preference (on unless they turned it off)."""
    if not (user.is_active and user.email):
        return False
    profile = _profile_or_none(user)
    return profile.email_on_result if profile else True


def email_taken(email: str) -> bool:
    """Whether an account already has this address, compared case-insensitively."""
    return get_user_model().objects.filter(email__iexact=email).exists()


def api_tokens_of(user) -> QuerySet[ApiToken]:
    """`user`'s API tokens, newest first."""
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-pk")


def api_token_for_key(key: str) -> ApiToken | None:
    """The token whose key this is, with its user; None for an unknown or revoked key."""
    if not is_platform_key(key):
        return None
    return ApiToken.objects.select_related("user").filter(digest=key_digest(key)).first()
