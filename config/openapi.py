"""The REST API's OpenAPI schema (drf-spectacular; docs/api.md): its two pages, and what every
operation shares.

Views describe their own success answers (`extend_schema` beside each view). The error answers
are the same everywhere (config/api.py's exception handler: `{"errors": [...]}`), so they are
added here, once, to every operation, by a postprocessing hook named in SPECTACULAR_SETTINGS.
"""

from __future__ import annotations

from drf_spectacular.authentication import TokenScheme
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.authentication import TokenAuthentication
from rest_framework.renderers import JSONRenderer


class JsonErrors:
    """Errors in the API's shape and format, JSON, whatever format the page itself is in (the
    schema's YAML, the docs page's HTML)."""

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code >= 400:
            response.accepted_renderer = JSONRenderer()
            response.accepted_media_type = JSONRenderer.media_type
        return response


class SchemaView(JsonErrors, SpectacularAPIView):
    pass


class DocsView(JsonErrors, SpectacularSwaggerSplitView):
    pass


# The schema (YAML; JSON with `?format=json` or `Accept: application/json`), and Swagger UI
# over it. The split view loads its start-up script as a file rather than inline, so the page
# keeps working under a Content-Security-Policy without 'unsafe-inline' scripts.
schema_view = SchemaView.as_view()
docs_view = DocsView.as_view(url_name="schema")


class OneTokenScheme(TokenScheme):
    """`Authorization: Token <key>` once. The API may accept that header through more than one
    class (a subclass of DRF's TokenAuthentication with keys of its own, then DRF's own): they
    are one scheme, `tokenAuth`, described by the first; later ones add nothing (drf-spectacular
    would otherwise warn of two components with one name)."""

    target_class = "rest_framework.authentication.TokenAuthentication"
    match_subclasses = True
    priority = 1

    def get_security_requirement(self, auto_schema):
        tokens = [
            type(a) for a in auto_schema.view.get_authenticators()
            if isinstance(a, TokenAuthentication)
        ]  # fmt: skip
        if tokens and tokens[0] is not type(self.target):
            # No requirement and no names: drf-spectacular then registers no component.
            self.name = []
            return None
        return super().get_security_requirement(auto_schema)

    def get_security_definition(self, auto_schema):
        return super().get_security_definition(auto_schema) if self.name else []


ERRORS_SCHEMA = {
    "type": "object",
    "description": 'Every 4xx and 5xx answer of the API: `{"errors": ["message", ...]}`.',
    "properties": {
        "errors": {
            "type": "array",
            "items": {"type": "string"},
            "minItems": 1,
            "description": "Messages a person can act on; never a stack trace.",
        }
    },
    "required": ["errors"],
}

# Status codes any operation may answer, whatever it does: a bad request or query parameter,
# a bad token, a refusal, something not found or not visible, an `Accept` header asking for
# what the operation cannot give, too many requests, an unexpected error.
ERROR_RESPONSES = {
    "400": "Bad request: a parameter or body that is not valid (the messages say which).",
    "401": "Authentication failed: a missing or invalid `Authorization: Token <key>` header.",
    "403": "Not allowed (closed benchmark, someone else's submission, withheld scores).",
    "404": "No such benchmark, task, split or submission, or not visible to you.",
    "406": "The `Accept` header asks for a format this operation cannot answer in.",
    "429": "Too many requests: wait the seconds `Retry-After` says.",
    "500": "Unexpected error. It has been logged; nothing about it is in the answer.",
}
# And operations that take a body: one too large, or in a media type they do not parse.
BODY_ERROR_RESPONSES = {
    "413": "The request is too large (a JSON or form body over the limit; files excepted).",
    "415": "The request's `Content-Type` is not one this operation accepts.",
}
RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before the next request.",
        "schema": {"type": "integer"},
    }
}
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def add_error_responses(result: dict, generator, request, public) -> dict:
    """drf-spectacular postprocessing hook: the `Errors` component, and an `{"errors": [...]}`
    answer for each error status an operation may give that it does not describe itself."""
    result.setdefault("components", {}).setdefault("schemas", {})["Errors"] = ERRORS_SCHEMA
    reference = {"$ref": "#/components/schemas/Errors"}
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in METHODS:
                continue
            codes = dict(ERROR_RESPONSES)
            if "requestBody" in operation:
                codes.update(BODY_ERROR_RESPONSES)
            responses = operation.setdefault("responses", {})
            for code, description in sorted(codes.items()):
                if code in responses:
                    continue
                responses[code] = {
                    "description": description,
                    "content": {"application/json": {"schema": reference}},
                }
                if code == "429":
                    responses[code]["headers"] = RETRY_AFTER
    return result
