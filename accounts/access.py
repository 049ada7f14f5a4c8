"""Who may act on an API token: its owner only. Anyone else gets a 404, the same answer as for a
token that does not exist, so that ids cannot be probed."""

from __future__ import annotations

from django.shortcuts import get_object_or_404

from accounts.models import ApiToken


def get_own_api_token_for(user, token_id: int) -> ApiToken:
    return get_object_or_404(ApiToken, pk=token_id, user=user)
