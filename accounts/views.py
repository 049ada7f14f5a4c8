"""Account pages: sign-up and its e-mail verification, the profile, API tokens. Log in, log out,
password change and reset are Django's own views (django.contrib.auth.urls) with the templates
in templates/registration/."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import services
from accounts.access import get_own_api_token_for
from accounts.forms import ApiTokenForm, EmailForm, ProfileForm, SignupForm
from accounts.selectors import api_tokens_of

# Where the key of a token just created waits for the page that shows it, once.
NEW_KEY_SESSION = "accounts_new_api_key"


def _link_base(request) -> str:
    """The site's scheme and host, for links in e-mails."""
    return request.build_absolute_uri("/").rstrip("/")


@require_http_methods(["GET", "POST"])
def signup(request):
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}):
        next_url = ""
    if request.user.is_authenticated:
        return redirect(next_url or "benchmark_list")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.account_create(
                username=form.cleaned_data["username"],
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password1"],
            )
        except services.AccountError as exc:
            form.add_error(None, exc.message)
        else:
            if not user.is_active:
                services.email_verification_send(user=user, link_base=_link_base(request))
                return redirect("signup_done")
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome, {user.username}! Your account is ready.")
            return redirect(next_url or "benchmark_list")
    return render(request, "registration/signup.html", {"form": form, "next": next_url})


@require_GET
def signup_done(request):
    return render(request, "accounts/signup_done.html")


@require_GET
def email_verify(request, uidb64, token):
    user = services.email_verify(uidb64=uidb64, token=token)
    if user is None:
        return render(request, "accounts/verify_failed.html", status=400)
    messages.success(request, f"Your e-mail address is confirmed, {user.username}: log in.")
    return redirect("login")


@require_http_methods(["GET", "POST"])
def verification_resend(request):
    form = EmailForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.email_verification_resend(
            email=form.cleaned_data["email"], link_base=_link_base(request)
        )
        return redirect("signup_done")
    return render(request, "accounts/verification_resend.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    profile = services.profile_ensure(request.user)
    # Bound on any POST: every field is optional, so an empty one is a valid form too.
    form = ProfileForm(request.POST if request.method == "POST" else None, instance=profile)
    if request.method == "POST" and form.is_valid():
        services.profile_update(profile=profile, **form.cleaned_data)
        messages.success(request, "Profile saved.")
        return redirect("profile")
    return render(request, "accounts/profile.html", {"form": form, "profile": profile})


@never_cache  # the page that shows a new key once must not come back from a cache
@login_required
@require_http_methods(["GET", "POST"])
def api_tokens(request):
    form = ApiTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            token, key = services.api_token_create(
                user=request.user, name=form.cleaned_data["name"]
            )
        except services.AccountError as exc:
            form.add_error("name", exc.message)
        else:
            # Shown by the page this redirects to, and then forgotten: a reload shows no key.
            request.session[NEW_KEY_SESSION] = {"id": token.pk, "key": key}
            return redirect("api_tokens")
    new = request.session.pop(NEW_KEY_SESSION, None) if request.method == "GET" else None
    tokens = list(api_tokens_of(request.user))
    new_token = next((t for t in tokens if new and t.pk == new["id"]), None)
    context = {
        "form": form,
        "tokens": tokens,
        "new_token": new_token,
        "new_key": new["key"] if new_token else None,
    }
    return render(request, "accounts/api_tokens.html", context)


@login_required
@require_POST
def api_token_revoke(request, token_id):
    token = get_own_api_token_for(request.user, token_id)
    services.api_token_revoke(token=token)
    messages.success(request, f"Token '{token.name}' revoked: requests sending it are refused.")
    return redirect("api_tokens")
