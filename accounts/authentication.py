"""`Authorization: Token <key>` for the REST API, with the named tokens of the API tokens page
(docs/accounts.md). First in DEFAULT_AUTHENTICATION_CLASSES: a key of ours that is unknown or
revoked is refused here (401); any other key is left to DRF's TokenAuthentication after it,
which still accepts the older single tokens of `rest_framework.authtoken`."""

from __future__ import annotations

from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from accounts.keys import is_platform_key
from accounts.selectors import api_token_for_key
from accounts.services import api_token_mark_used


class ApiTokenAuthentication(TokenAuthentication):
    """A subclass for the header it reads (`keyword`) and the 401 it asks for
    (`authenticate_header`), which API schema generators also recognise; the lookup is its
    own."""

    def authenticate(self, request):
        words = get_authorization_header(request).split()
        if len(words) != 2 or words[0].lower() != self.keyword.lower().encode():
            # No token, or a malformed header that TokenAuthentication explains.
            return None
        try:
            key = words[1].decode()
        except UnicodeError:
            return None
        if not is_platform_key(key):
            return None
        token = api_token_for_key(key)
        # Never the key in the message: answers and logs quote messages.
        if token is None:
            raise AuthenticationFailed(
                "Invalid token: it does not exist or was revoked. Create a new one on your "
                "API tokens page."
            )
        if not token.user.is_active:
            raise AuthenticationFailed("Invalid token: its account is inactive.")
        api_token_mark_used(token=token)
        return token.user, token
