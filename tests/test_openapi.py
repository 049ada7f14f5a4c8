"""The API's OpenAPI schema (/api/schema/) and its docs page (/api/docs/), docs/api.md; and the
API's answers to what the schema does not describe: other methods, unreadable bodies, media
types it does not take, all in the `{"errors": [...]}` shape."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import yaml
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.test import SimpleTestCase, TestCase
from django.urls import URLPattern, URLResolver, get_resolver

from tests.base import PlatformTestCase, make_scored_submission

ERROR_CODES = {"400", "401", "403", "404", "406", "429", "500"}
METHODS = ("get", "post", "put", "patch", "delete")


def api_routes() -> set[str]:
    """Every /api/v1/ route of the URLconf, written as the schema writes paths."""
    found = set()

    def walk(patterns, prefix):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and route.startswith("api/v1/"):
                found.add("/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route))

    walk(get_resolver().url_patterns, "")
    return found


class SchemaTests(TestCase):
    def get_schema(self) -> dict:
        response = self.client.get("/api/schema/", {"format": "json"})
        self.assertEqual(response.status_code, 200)
        return response.json()

    def test_it_is_served_as_yaml_and_as_json(self):
        response = self.client.get("/api/schema/")
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response["Content-Type"].startswith("application/vnd.oai.openapi"))
        as_yaml = yaml.safe_load(response.content)
        self.assertEqual(as_yaml["openapi"], "3.0.3")
        as_json = self.client.get("/api/schema/", HTTP_ACCEPT="application/json")
        self.assertEqual(as_json["Content-Type"], "application/json")
        self.assertEqual(as_json.json()["paths"].keys(), as_yaml["paths"].keys())

    def test_it_generates_without_a_warning_and_validates(self):
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "schema.yaml"
            call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
            self.assertIn("/api/v1/benchmarks/", yaml.safe_load(out.read_text())["paths"])

    def test_it_describes_every_api_route(self):
        self.assertEqual(set(self.get_schema()["paths"]), api_routes())

    def test_every_operation_has_an_id_a_success_answer_and_the_error_shape(self):
        schema = self.get_schema()
        self.assertEqual(
            schema["components"]["schemas"]["Errors"]["properties"]["errors"]["items"],
            {"type": "string"},
        )
        ids = []
        for path, operations in schema["paths"].items():
            for method, operation in operations.items():
                with self.subTest(f"{method} {path}"):
                    ids.append(operation["operationId"])
                    codes = set(operation["responses"])
                    self.assertTrue({"200", "201"} & codes)
                    self.assertLessEqual(ERROR_CODES, codes)
                    for code in codes - {"200", "201"}:
                        content = operation["responses"][code]["content"]
                        self.assertEqual(
                            content["application/json"]["schema"],
                            {"$ref": "#/components/schemas/Errors"},
                        )
        self.assertEqual(len(ids), len(set(ids)))

    def test_the_token_scheme_is_the_authorization_header(self):
        schema = self.get_schema()
        token = schema["components"]["securitySchemes"]["tokenAuth"]
        self.assertEqual(
            (token["type"], token["in"], token["name"]), ("apiKey", "header", "Authorization")
        )
        upload = schema["paths"]["/api/v1/benchmarks/{slug}/submissions/"]["post"]
        self.assertIn({"tokenAuth": []}, upload["security"])
        self.assertNotIn({}, upload["security"])  # signed in only
        board = schema["paths"]["/api/v1/benchmarks/{slug}/leaderboard/"]["get"]
        self.assertIn({}, board["security"])  # anyone

    def test_the_boards_query_parameters_are_described(self):
        paths = self.get_schema()["paths"]

        def names(path):
            return {
                p["name"] for p in paths[path]["get"].get("parameters", []) if p["in"] == "query"
            }

        self.assertEqual(
            names("/api/v1/benchmarks/{slug}/leaderboard/"),
            {"task", "split", "sort", "slice", "cell", "show", "kind", "baselines", "page"},
        )
        self.assertEqual(
            names("/api/v1/benchmarks/{slug}/leaderboard/history/"), {"task", "split", "sort"}
        )
        self.assertEqual(names("/api/v1/submissions/"), {"benchmark", "status", "page"})
        self.assertEqual(names("/api/v1/task-types/{task_type}/best/"), {"limit"})
        self.assertEqual(names("/api/v1/benchmarks/{slug}/overall/"), {"weights"})


class DocsPageTests(SimpleTestCase):
    def test_it_is_swagger_ui_from_this_sites_own_files(self):
        response = self.client.get("/api/docs/")
        self.assertEqual(response.status_code, 200)
        html = response.content.decode()
        links = re.findall(r'(?:src|href)="([^"]+)"', html)
        self.assertTrue(links)
        for link in links:
            self.assertFalse(link.startswith(("http:", "https:", "//")), link)
            if link.startswith("/static/"):
                self.assertIsNotNone(finders.find(link.removeprefix("/static/")), link)
        # Its start-up script is a file of its own (no inline script), naming the schema.
        self.assertNotRegex(html, r"<script>")
        script = self.client.get("/api/docs/?script=")
        self.assertEqual(script["Content-Type"], "application/javascript")
        self.assertIn("/api/schema/", script.content.decode())


class ErrorAnswerTests(PlatformTestCase):
    """What the schema leaves out is answered in the API's error shape too."""

    def setUp(self):
        # Staff: past every permission check, which comes before the method's (DRF).
        self.submission = make_scored_submission(self.benchmark, self.staff, {"test": {"a": 1}})
        self.client.force_login(self.staff)

    def concrete(self, path: str) -> str:
        values = {"slug": "sentiment", "task": "sst", "split": "dev"}
        values.update(submission_id=self.submission.pk, task_type="text-classification")
        values.update(invitation_id=1)
        return re.sub(r"{(\w+)}", lambda m: str(values[m.group(1)]), path)

    def test_every_other_method_on_a_route_is_a_405_naming_the_allowed_ones(self):
        paths = self.client.get("/api/schema/", {"format": "json"}).json()["paths"]
        paths.update({"/api/schema/": {"get": {}}, "/api/docs/": {"get": {}}})
        for path, operations in paths.items():
            for method in METHODS:
                if method in operations:
                    continue
                with self.subTest(f"{method} {path}"):
                    response = getattr(self.client, method)(self.concrete(path))
                    self.assert_errors(response, 405)
                    allowed = {m.strip().lower() for m in response["Allow"].split(",")}
                    self.assertLessEqual(set(operations), allowed)

    def test_a_body_that_is_not_json_is_a_400(self):
        response = self.client.post(
            f"/api/v1/submissions/{self.submission.pk}/privacy/",
            data='{"private": tru',
            content_type="application/json",
        )
        self.assertIn("JSON parse error", self.assert_errors(response, 400)[0])

    def test_a_media_type_the_operation_does_not_take_is_a_415(self):
        response = self.client.post(
            f"/api/v1/submissions/{self.submission.pk}/privacy/",
            data="private=true",
            content_type="text/plain",
        )
        self.assert_errors(response, 415)

    def test_an_accept_header_it_cannot_answer_is_a_406_in_json(self):
        for path in ("/api/v1/benchmarks/", "/api/schema/", "/api/docs/"):
            with self.subTest(path):
                response = self.client.get(path, HTTP_ACCEPT="image/png")
                self.assert_errors(response, 406)
                self.assertEqual(response["Content-Type"], "application/json")

    def test_a_body_over_the_limit_is_a_413(self):
        big = '{"private": true, "pad": "' + "x" * (11 * 2**20) + '"}'
        response = self.client.post(
            f"/api/v1/submissions/{self.submission.pk}/privacy/",
            data=big,
            content_type="application/json",
        )
        self.assertIn("send files as multipart uploads", self.assert_errors(response, 413)[0])

    def test_too_many_query_parameters_is_a_400(self):
        query = "&".join(f"p{i}=1" for i in range(1001))
        self.assert_errors(self.client.get(f"/api/v1/benchmarks/?{query}"), 400)
