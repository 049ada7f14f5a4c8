"""Rate limits and the login lock-out (docs/deployment.md, "Throttling").

- The API: DRF throttles per scope, answering 429 with Retry-After: every request of an
  anonymous client per address (`anon`), of a signed-in user per account (`user`), and the
  POSTs of POST_SCOPES (uploads per participant).
- Pages: PostThrottleMiddleware limits the POSTs of POST_SCOPES (log in, sign up, password
  reset and verification mail per address; uploads and team actions per account) and answers
  with the 429 page.
- Failed logins: django-axes locks a username out from one address (settings, AXES_*);
  `login_locked_out` is its 429 page.

Rates are `settings.THROTTLE_RATES[scope]`, read at each request (DRF reads its own rates once,
at import), None for no limit. The counts live in the default cache, which every web process
shares.
"""

from __future__ import annotations

import math

from django.conf import settings
from django.shortcuts import render
from rest_framework.throttling import BaseThrottle, SimpleRateThrottle

# POSTs with a rate of their own, by URL name. The page and the API count uploads together, so
# that neither is a way around the other.
POST_SCOPES = {
    "login": "login",
    "admin:login": "login",
    "signup": "signup",
    "submission_create": "uploads",
    "api-submission-create": "uploads",
    # What makes the platform send e-mail to an address the sender names: password resets and
    # verification mails (per address), team invitations (per account).
    "password_reset": "mail",
    "verification_resend": "mail",
    "team": "invites",
    "api-team-invite": "invites",
}

# Counted per client address even for a signed-in user: accounts are what they protect.
PER_ADDRESS = {"login", "signup", "mail"}

MESSAGES = {
    "login": "Too many login attempts from your address.",
    "signup": "Too many sign-ups from your address.",
    "uploads": "Too many uploads from your account.",
    "mail": "Too many e-mail requests from your address.",
    "invites": "Too many team changes and invitations from your account.",
}


def client_ip(request) -> str:
    """The client's address: REMOTE_ADDR, or, behind NUM_PROXIES proxies, the address that many
    hops back in X-Forwarded-For. DRF's rule, so that the API, the pages and the login lock-out
    count the same client."""
    return BaseThrottle().get_ident(request)


class ScopeRateThrottle(SimpleRateThrottle):
    """Requests of one scope, per account when signed in, else per client address (always per
    address for PER_ADDRESS)."""

    def __init__(self, scope: str | None = None):
        # SimpleRateThrottle would read the rate here, from DRF's settings as they were at
        # import; allow_request reads it from THROTTLE_RATES instead.
        if scope is not None:
            self.scope = scope

    def allow_request(self, request, view) -> bool:
        self.rate = settings.THROTTLE_RATES[self.scope]
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str | None:
        user = request.user
        if user.is_authenticated and self.scope not in PER_ADDRESS:
            ident = user.pk
        else:
            ident = client_ip(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class AnonThrottle(ScopeRateThrottle):
    scope = "anon"

    def get_cache_key(self, request, view) -> str | None:
        return None if request.user.is_authenticated else super().get_cache_key(request, view)


class UserThrottle(ScopeRateThrottle):
    scope = "user"

    def get_cache_key(self, request, view) -> str | None:
        return super().get_cache_key(request, view) if request.user.is_authenticated else None


def post_scope(request) -> str | None:
    if request.method != "POST" or request.resolver_match is None:
        return None
    return POST_SCOPES.get(request.resolver_match.view_name)


class PostThrottle(ScopeRateThrottle):
    """The API's POSTs named in POST_SCOPES."""

    def allow_request(self, request, view) -> bool:
        self.scope = post_scope(request)
        return self.scope is None or super().allow_request(request, view)


def in_words(seconds: float) -> str:
    minutes = math.ceil(seconds / 60)
    if seconds < 60:
        return f"{math.ceil(seconds)} seconds"
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def throttled_page(request, *, message: str, wait: float):
    """The 429 page: what was refused, when to try again, and Retry-After."""
    context = {"message": message, "wait": in_words(wait)}
    response = render(request, "429.html", context, status=429)
    response["Retry-After"] = str(math.ceil(wait))
    return response


class PostThrottleMiddleware:
    """Limits the page POSTs named in POST_SCOPES. Runs after the CSRF check, so a forged
    request costs nobody their quota."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        scope = post_scope(request)
        # API views are throttled by DRF (PostThrottle), which answers in the API's shape.
        if scope is None or hasattr(view_func, "cls"):
            return None
        throttle = ScopeRateThrottle(scope)
        if throttle.allow_request(request, None):
            return None
        return throttled_page(request, message=MESSAGES[scope], wait=throttle.wait() or 1)


def login_locked_out(request, original_response=None, credentials=None):
    """django-axes' answer to a login for a username locked out from this address: the right
    password is refused too, until the cool-off has passed since the last attempt."""
    message = "Too many failed logins to this account from your address."
    return throttled_page(request, message=message, wait=settings.AXES_COOLOFF_TIME.total_seconds())
