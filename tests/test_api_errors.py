"""An unexpected error in an API view answers 500 `{"errors": [...]}` without a stack trace,
and its log line names where it happened but not its message, which could quote data."""

from unittest import mock

from tests.base import PlatformTestCase


class UnexpectedApiErrorTests(PlatformTestCase):
    def test_it_answers_json_and_logs_without_the_exception_message(self):
        secret = "test-001 is zz-label-pos"
        with (
            mock.patch("benchmarks.api.BenchmarkListSerializer", side_effect=RuntimeError(secret)),
            self.assertLogs("config.api", "ERROR") as logs,
        ):
            response = self.client.get("/api/v1/benchmarks/")
        self.assertEqual(response.status_code, 500)
        self.assertEqual(list(response.json()), ["errors"])
        self.assertNotIn(secret, response.content.decode())
        log = "\n".join(logs.output)
        self.assertIn("RuntimeError", log)
        self.assertNotIn(secret, log)
