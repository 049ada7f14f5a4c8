"""API-wide behaviour: every 4xx/5xx answer is `{"errors": [...]}` (docs/formats.md)."""

from __future__ import annotations

import logging
import traceback

from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)


def flatten_errors(detail, prefix: str = "") -> list[str]:
    """DRF error details (dicts, lists, strings) as plain messages, field names in front."""
    if isinstance(detail, dict):
        messages = []
        for key, value in detail.items():
            name = "" if key in ("non_field_errors", "detail", "errors") else f"{prefix}{key}"
            messages += flatten_errors(value, f"{name}: " if name else prefix)
        return messages
    if isinstance(detail, list):
        return [m for item in detail for m in flatten_errors(item, prefix)]
    return [f"{prefix}{detail}"]


def exception_handler(exc, context):
    response = drf_exception_handler(exc, context)
    if response is None:
        # An unexpected error: log where it happened for operators (not its message, which
        # could quote data), answer without a stack trace.
        logger.error(
            "Unhandled API error in %s: %s\n%s",
            context.get("view"),
            type(exc).__name__,
            "".join(traceback.format_tb(exc.__traceback__)),
        )
        return Response(
            {"errors": ["Internal error. It has been logged; please try again later."]},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    if isinstance(exc, ValidationError) or isinstance(response.data, (dict, list)):
        response.data = {"errors": flatten_errors(response.data)}
    return response
