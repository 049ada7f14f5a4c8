"""API-wide behaviour: every 4xx/5xx answer is `{"errors": [...]}` (docs/formats.md)."""

from __future__ import annotations

import logging
import traceback

from django.conf import settings
from django.core.exceptions import (
    RequestDataTooBig,
    SuspiciousMultipartForm,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.urls import Resolver404, resolve
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import api_view, permission_classes
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
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
    if isinstance(exc, RequestDataTooBig):
        # Django refuses to read a body (not counting uploaded files) over this limit.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE / 2**20
        return Response(
            {
                "errors": [
                    f"The request is over the {limit:g} MB this API reads outside uploaded "
                    "files: send files as multipart uploads."
                ]
            },
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, (TooManyFieldsSent, TooManyFilesSent, SuspiciousMultipartForm)):
        # Django's refusals of a form it was asked to parse (its limits, a broken multipart).
        return Response(
            {"errors": [f"The request's form was refused: {exc}"]},
            status=status.HTTP_400_BAD_REQUEST,
        )
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


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@permission_classes([AllowAny])
def route_not_found(request, *args, **kwargs):
    """Any /api/ address that is no route, whatever the method: a 404 in the API's shape (not
    Django's HTML page), saying where the routes are. A known route missing its trailing slash
    gets that route named instead of a redirect (which would drop a POST's body)."""
    path = request.path
    message = f"No API route {request.method} {path[:200]}: see /api/v1/ routes in docs/formats.md."
    if not path.endswith("/"):
        try:
            resolve(path + "/")
        except Resolver404:
            pass
        else:
            message = f"No API route {request.method} {path[:200]}: did you mean {path[:200]}/?"
    return Response({"errors": [message]}, status=status.HTTP_404_NOT_FOUND)
