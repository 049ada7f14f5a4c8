"""Writes about accounts (docs/accounts.md): sign-up and its e-mail verification, profiles, API
tokens."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.keys import key_digest, key_new, key_prefix
from accounts.models import ApiToken, Profile
from accounts.selectors import email_taken
from accounts.verification import user_for_link, verification_path

logger = logging.getLogger(__name__)

DUPLICATE_EMAIL = (
    "An account with this e-mail address already exists. Log in, or reset your password if "
    "you forgot it."
)
# A person needs a few tokens (a laptop, a cluster, CI); more is a script gone wrong.
MAX_API_TOKENS = 20
TOKEN_NAME_MAX = ApiToken._meta.get_field("name").max_length
# last_used_at is written at most this often per token, so that a busy client does not turn
# every API read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# One sign-up e-mail per account per this long, whatever asks for it again.
VERIFICATION_RESEND_INTERVAL = timedelta(minutes=1)


class AccountError(Exception):
    """A request about an account that cannot be done, with a message its user can act on."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


def verification_required() -> bool:
    return settings.ACCOUNT_EMAIL_VERIFICATION == "mandatory"


def account_create(*, username: str, email: str, password: str):
    """A new account and its profile. With mandatory e-mail verification the account is
    inactive until its owner opens the link that `email_verification_send` mails them. The form
    has checked the username, the address and the password; the address is checked again here,
    next to the insert."""
    User = get_user_model()
    awaiting = verification_required()
    try:
        with transaction.atomic():
            if email_taken(email):
                raise AccountError(DUPLICATE_EMAIL)
            user = User.objects.create_user(
                username=username, email=email, password=password, is_active=not awaiting
            )
            Profile.objects.create(user=user, awaiting_email_verification=awaiting)
    except IntegrityError as exc:
        # Another sign-up took the username between the form's check and this insert.
        raise AccountError(f"The username '{username}' was just taken: choose another.") from exc
    return user


def email_verification_send(*, user, link_base: str) -> bool:
    """Mail `user` the link that activates their account (`link_base`: the site's scheme and
    host). At most one per VERIFICATION_RESEND_INTERVAL; False when none was sent."""
    sent_key = f"accounts:verification-sent:{user.pk}"
    if not cache.add(sent_key, True, timeout=VERIFICATION_RESEND_INTERVAL.total_seconds()):
        return False
    context = {
        "user": user,
        "link": link_base + verification_path(user),
        "valid_days": max(1, settings.PASSWORD_RESET_TIMEOUT // (24 * 60 * 60)),
    }
    subject = render_to_string("accounts/verification_email_subject.txt", context)
    body = render_to_string("accounts/verification_email.txt", context)
    try:
        send_mail(" ".join(subject.split()), body, None, [user.email])
    except OSError as exc:  # smtplib's errors are OSErrors
        # Neither the address nor the link: the error's type says enough to an operator.
        logger.warning(
            "The sign-up e-mail of user %s could not be sent (%s).", user.pk, type(exc).__name__
        )
        cache.delete(sent_key)
        return False
    return True


def email_verification_resend(*, email: str, link_base: str) -> None:
    """Mail a new link to the account awaiting verification that has this address, if there is
    one. Says nothing either way, so that addresses cannot be probed."""
    user = (
        get_user_model()
        .objects.filter(
            email__iexact=email, is_active=False, profile__awaiting_email_verification=True
        )
        .first()
    )
    if user is not None:
        email_verification_send(user=user, link_base=link_base)


def email_verify(*, uidb64: str, token: str):
    """Activate the account a sign-up link names; the user, or None for a link that is invalid,
    expired or already used. Only an account awaiting verification is activated: one that staff
    deactivated stays so."""
    user = user_for_link(uidb64, token)
    if user is None:
        return None
    with transaction.atomic():
        updated = Profile.objects.filter(user=user, awaiting_email_verification=True).update(
            awaiting_email_verification=False, email_verified_at=timezone.now()
        )
        if not updated:
            return None
        user.is_active = True
        user.save(update_fields=["is_active"])
    return user


def profile_ensure(user) -> Profile:
    """`user`'s profile, created with the defaults for an account older than profiles."""
    profile, _ = Profile.objects.get_or_create(user=user)
    return profile


def profile_update(
    *, profile: Profile, display_name: str, affiliation: str, email_on_result: bool
) -> Profile:
    profile.display_name = display_name.strip()
    profile.affiliation = affiliation.strip()
    profile.email_on_result = email_on_result
    profile.save(update_fields=["display_name", "affiliation", "email_on_result"])
    return profile


def api_token_create(*, user, name: str, replace: bool = False) -> tuple[ApiToken, str]:
    """A new named API token of `user`, and its key: the only time the key exists outside the
    request that sends it. `replace`: a token of that name is revoked first, instead of being
    an error."""
    name = name.strip()
    if not name:
        raise AccountError("Give the token a name, e.g. the machine or script that will use it.")
    if len(name) > TOKEN_NAME_MAX:
        raise AccountError(f"A token's name has at most {TOKEN_NAME_MAX} characters.")
    key = key_new()
    try:
        with transaction.atomic():
            same_name = ApiToken.objects.filter(user=user, name=name)
            if same_name.exists():
                if not replace:
                    raise AccountError(
                        f"You already have a token named '{name}': choose another name, or "
                        "revoke that one first."
                    )
                same_name.delete()
            elif ApiToken.objects.filter(user=user).count() >= MAX_API_TOKENS:
                raise AccountError(
                    f"You have {MAX_API_TOKENS} tokens, the most an account may have: revoke "
                    "one you no longer use first."
                )
            token = ApiToken.objects.create(
                user=user, name=name, prefix=key_prefix(key), digest=key_digest(key)
            )
    except IntegrityError as exc:
        # The same name, created by a concurrent request.
        raise AccountError(f"You already have a token named '{name}'.") from exc
    return token, key


def api_token_revoke(*, token: ApiToken) -> None:
    """Requests that send the token's key are refused from now on."""
    token.delete()


def api_token_mark_used(*, token: ApiToken) -> None:
    """Record that the token authenticated a request, to the minute (LAST_USED_RESOLUTION):
    one conditional UPDATE, so concurrent requests write it once."""
    now = timezone.now()
    since = now - LAST_USED_RESOLUTION
    if token.last_used_at is not None and token.last_used_at > since:
        return
    ApiToken.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=since), pk=token.pk
    ).update(last_used_at=now)
    token.last_used_at = now
