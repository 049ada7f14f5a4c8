"""The signed link of the sign-up e-mail (ACCOUNT_EMAIL_VERIFICATION = "mandatory"): Django's
password-reset tokens with a salt of their own, so that one kind of link never works as the
other, and with the account's active flag in the hash, so that a link works once: opening it
activates the account, which invalidates it."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode


class EmailVerificationTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "accounts.verification.EmailVerificationTokenGenerator"

    def _make_hash_value(self, user, timestamp):
        # Valid for PASSWORD_RESET_TIMEOUT (3 days by default), like a reset link.
        return f"{user.pk}{user.is_active}{user.email}{timestamp}"


tokens = EmailVerificationTokenGenerator()


def verification_path(user) -> str:
    uidb64 = urlsafe_base64_encode(force_bytes(user.pk))
    return reverse("email_verify", args=[uidb64, tokens.make_token(user)])


def user_for_link(uidb64: str, token: str):
    """The account a verification link names, if its token is valid for it; else None."""
    User = get_user_model()
    try:
        pk = urlsafe_base64_decode(uidb64).decode()
        user = User.objects.get(pk=pk)
    except (TypeError, ValueError, OverflowError, ValidationError, User.DoesNotExist):
        return None
    return user if tokens.check_token(user, token) else None
