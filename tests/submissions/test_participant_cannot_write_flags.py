"""A participant trying to write status or flags through every endpoint. Every URL of the URL conf
(found by walking it, so a new endpoint is attacked without asking; the admin is left out and
checked on its own below) is sent POST, PUT, PATCH and DELETE by an ordinary participant who owns
scored, disqualified, failed and queued submissions, signed in with a session and with a named
API token (`bpt_...`), with JSON, form-encoded and multipart bodies that set the fields only the
platform and the benchmark's authors may change: status, error, failed_by_platform, progress,
the moderation flags and reason, the owner, the benchmark, the run counters, the Celery job, the
scores and the creation time. After each request every Submission and Evaluation is read back:
the protected fields are as they were (whatever the answer), no answer is a 500, and a
submission a create endpoint made is queued, unflagged and the requester's. What an endpoint is
for is allowed (privacy toggles `is_private`, which is not snapshotted; the owner's cancel of
their queued submission moves it to `cancelled`)."""

from __future__ import annotations

import json
from datetime import timedelta
from unittest import mock
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import override_settings
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.converters import IntConverter
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from accounts.services import api_token_create
from benchmarks.models import Benchmark
from submissions.models import Evaluation, Submission
from tests.base import (
    PlatformTestCase,
    gold_rows,
    make_benchmark,
    make_scored_submission,
    prediction_csv,
    upload,
)

User = get_user_model()

REASON = "Trained on the test inputs."

# Every field of a Submission that only the platform (scoring, the reaper, services) or the
# benchmark's authors (the admin) may change. `is_private`, `name`, `description` and the links
# are the participant's own and are left out; so are `selected_final` (the final mark is theirs
# to set) and `team` (joining a team brings one's own submissions into it).
PROTECTED = [
    "phase_id",
    "status",
    "error",
    "failed_by_platform",
    "progress",
    "is_baseline",
    "is_hidden",
    "is_disqualified",
    "moderation_reason",
    "participant_id",
    "benchmark_id",
    "task_id",
    "kind",
    "stage",
    "rows_done",
    "rows_total",
    "attempts",
    "claims",
    "celery_task_id",
    "created_at",
    "started_at",
    "finished_at",
    "requeued_at",
    "heartbeat_at",
    "file",
    "run_output",
    "run_info",
    "stage_seconds",
    "model_sha",
    "original_filename",
]
FLAGS = ["is_baseline", "is_hidden", "is_disqualified"]

WRITE_METHODS = ["POST", "PUT", "PATCH", "DELETE"]
# Writable routes (some write method not answered 405 to a signed-in participant) found on
# 2026-11-30: 18 (20 with the team pages then in progress). Discovery that finds fewer has
# broken, or an endpoint was removed: lower this on purpose then.
MIN_WRITABLE_ROUTES = 18
# Routes that must be among them whatever else changes.
MUST_BE_WRITABLE = {
    "api-submission-create",
    "api-submission-privacy",
    "api-submission-cancel",
    "submission_create",
    "submission_privacy",
    "submission_cancel",
    "profile",
    "api_tokens",
    "api_token_revoke",
}
CREATE_ROUTES = {"api-submission-create", "submission_create"}
CANCEL_ROUTES = {"api-submission-cancel", "submission_cancel"}


def routes(
    resolver: URLResolver | None = None, namespace: str = ""
) -> list[tuple[str, URLPattern]]:
    """(name, pattern) of every URL pattern outside the admin, namespaced."""
    found = []
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace == "admin" or entry.app_name == "admin":
                continue
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            found += routes(entry, inner)
            continue
        assert isinstance(entry, URLPattern)
        assert entry.name, f"an unnamed URL pattern {entry.pattern}: name it"
        found.append((namespace + entry.name, entry))
    return found


def form_value(value) -> str:
    """A body value as a form field: nested values as JSON, booleans as `true`/`false`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


# Thousands of requests from one account in seconds: no rate limits here.
@override_settings(THROTTLE_RATES=dict.fromkeys(settings.THROTTLE_RATES))
class ParticipantCannotWriteFlagsTests(PlatformTestCase):
    maxDiff = None

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.other = make_benchmark("other-bench", maintainers=(cls.author,))
        scores = {"dev": {"accuracy": 0.8, "f1": 0.7}, "test": {"accuracy": 0.7, "f1": 0.6}}
        cls.scored = make_scored_submission(cls.benchmark, cls.alice, scores)
        cls.disqualified = make_scored_submission(
            cls.benchmark, cls.alice, scores, is_disqualified=True, moderation_reason=REASON
        )
        cls.failed = Submission.objects.create(
            benchmark=cls.benchmark,
            participant=cls.alice,
            status=Submission.Status.FAILED,
            error="Row test-003 has no prediction.",
            original_filename="predictions.csv",
        )
        # No Celery job id: cancelling it revokes nothing on a broker.
        cls.queued = Submission.objects.create(
            benchmark=cls.benchmark, participant=cls.alice, original_filename="predictions.csv"
        )
        cls.bobs = make_scored_submission(cls.benchmark, cls.bob, scores)
        cls.own_ids = [cls.scored.pk, cls.disqualified.pk, cls.failed.pk, cls.queued.pk]
        cls.token, cls.key = api_token_create(user=cls.alice, name="attacker")
        cls.predictions = prediction_csv(gold_rows(cls.benchmark))

    def setUp(self):
        # Nothing reaches a broker: accepted uploads are rolled back with their request.
        for target in (
            "submissions.tasks.score_submission.apply_async",
            "submissions.tasks.rescore_submission.apply_async",
        ):
            patcher = mock.patch(target)
            patcher.start()
            self.addCleanup(patcher.stop)
        self.started = timezone.now()
        self.token_client = self.client_class()

    # -- what is sent -------------------------------------------------------------------------

    def bodies(self) -> list[dict]:
        """Two attacks: promote (scored, flagged, someone else's, on another benchmark) and
        demote (failed through the platform's fault, flags cleared); both with the fields a
        create or privacy request needs, so that those endpoints do their job."""
        common = {
            "participant": self.bob.pk,
            "participant_id": self.bob.pk,
            "benchmark": self.other.pk,
            "benchmark_id": self.other.pk,
            "rows_done": 999,
            "rows_total": 999,
            "attempts": 7,
            "claims": 3,
            "celery_task_id": "attacker-chosen-job",
            "created_at": "2001-01-01T00:00:00Z",
            "started_at": "2001-01-01T00:00:00Z",
            "finished_at": "2001-01-01T00:01:00Z",
            "stage": "run",
            "model_sha": "sha256:" + "0" * 64,
            "is_staff": True,
            "is_superuser": True,
            "name": "attack",
            "private": True,
        }
        promote = {
            **common,
            "status": "scored",
            "error": "",
            "failed_by_platform": True,
            "progress": 1.0,
            "is_baseline": True,
            "is_hidden": True,
            "is_disqualified": True,
            "moderation_reason": "Set by the participant.",
            "metrics": {"accuracy": {"value": 1.0, "ci": None}},
            "evaluations": [
                {
                    "split": self.test_split.pk,
                    "task": self.task.pk,
                    "metrics": {"accuracy": {"value": 1.0, "ci": None}},
                }
            ],
        }
        demote = {
            **common,
            "status": "failed",
            "error": "Failed through the platform's fault.",
            "failed_by_platform": True,
            "progress": 0.25,
            "is_baseline": False,
            "is_hidden": False,
            "is_disqualified": False,
            "moderation_reason": "",
            "metrics": {},
            "evaluations": [],
            "benchmark": self.other.slug,
            "participant": self.bob.username,
            # On a create endpoint `kind` chooses the model form (a legitimate choice, refused
            # here for want of a model): only `promote` gets a prediction file accepted.
            "kind": "model",
        }
        return [promote, demote]

    def encoded(self, body: dict, encoding: str) -> tuple[bytes, str]:
        if encoding == "json":
            return json.dumps(body).encode(), "application/json"
        flat = {key: form_value(value) for key, value in body.items()}
        if encoding == "form":
            return urlencode(flat).encode(), "application/x-www-form-urlencoded"
        # Multipart: with a valid prediction file, so that a create endpoint creates.
        flat["file"] = upload(self.predictions)
        return encode_multipart(BOUNDARY, flat), MULTIPART_CONTENT

    def urls(self, name: str, pattern: URLPattern) -> list[str]:
        """The route with its parameters filled by real objects: a submission parameter takes
        each of alice's submissions (every state) and bob's in turn."""
        params = list(pattern.pattern.converters)
        if not params:
            return [reverse(name)]
        fillers = {
            "slug": [self.benchmark.slug],
            "task": [self.task.slug],
            "split": [self.test_split.name],
            "fmt": ["csv"],
            "task_type": [self.task.type],
            "token_id": [self.token.pk],
            "uidb64": [urlsafe_base64_encode(force_bytes(self.alice.pk))],
            "token": ["set-password"],
            "pk": [*self.own_ids, self.bobs.pk],
            "submission_id": [*self.own_ids, self.bobs.pk],
        }
        # A parameter not named above (a new route) still gets values, from its type: a low
        # id (one that likely exists) and one that does not; this benchmark's slug for text.
        converters = pattern.pattern.converters
        for param in params:
            if param not in fillers:
                is_int = isinstance(converters[param], IntConverter)
                fillers[param] = [1, 999_999] if is_int else [self.benchmark.slug]
        # One URL per value of the first multi-valued parameter; others take their first.
        multi = next((p for p in params if len(fillers[p]) > 1), None)
        values = fillers[multi] if multi else [None]
        urls = []
        for value in values:
            kwargs = {p: fillers[p][0] for p in params}
            if multi:
                kwargs[multi] = value
            urls.append(reverse(name, kwargs=kwargs))
        return urls

    # -- what is read back --------------------------------------------------------------------

    def snapshot(self) -> dict:
        return {
            "submissions": {
                row["id"]: row for row in Submission.objects.values("id", "is_private", *PROTECTED)
            },
            "evaluations": list(Evaluation.objects.order_by("pk").values()),
            "users": sorted(
                (u.pk, u.is_staff, u.is_superuser, u.is_active, u.groups.count())
                for u in User.objects.all()
            ),
            "permissions": sorted(
                User.objects.filter(user_permissions__isnull=False).values_list(
                    "pk", "user_permissions"
                )
            ),
            "members": list(
                Benchmark.objects.values_list("pk", "maintainers", "reviewers").order_by(
                    "pk", "maintainers", "reviewers"
                )
            ),
        }

    def compare(self, where: str, route: str, before: dict, after: dict) -> list[str]:
        problems = []
        for pk, old in before["submissions"].items():
            new = after["submissions"].get(pk)
            if new is None:
                problems.append(f"{where}: submission {pk} was deleted")
                continue
            allowed = set()
            if (
                route in CANCEL_ROUTES
                and pk == self.queued.pk
                and new["status"] == Submission.Status.CANCELLED
            ):
                allowed = {"status", "finished_at"}  # the owner's cancel: what it is for
            changed = {
                field: (old[field], new[field])
                for field in PROTECTED
                if field not in allowed and old[field] != new[field]
            }
            if changed:
                problems.append(f"{where}: submission {pk} changed {changed}")
        for pk in set(after["submissions"]) - set(before["submissions"]):
            new = after["submissions"][pk]
            if route not in CREATE_ROUTES:
                problems.append(f"{where}: a submission was created by {route}: {new}")
            problems += [f"{where}: new submission {pk}: {p}" for p in self.fresh_problems(new)]
        new_evaluations = [e for e in after["evaluations"] if e not in before["evaluations"]]
        if before["evaluations"] != after["evaluations"]:
            problems.append(f"{where}: evaluations changed, new or changed: {new_evaluations}")
        for key in ("users", "permissions", "members"):
            if before[key] != after[key]:
                problems.append(f"{where}: {key} changed: {before[key]} -> {after[key]}")
        return problems

    def fresh_problems(self, row: dict) -> list[str]:
        """What a newly created submission must be, whatever the body said."""
        expected = {
            "status": Submission.Status.QUEUED,
            "participant_id": self.alice.pk,
            "benchmark_id": self.benchmark.pk,
            "kind": Submission.Kind.PREDICTIONS,
            "error": "",
            "failed_by_platform": False,
            "progress": 0.0,
            "is_baseline": False,
            "is_hidden": False,
            "is_disqualified": False,
            "moderation_reason": "",
            "rows_done": 0,
            "attempts": 0,
            "claims": 0,
            "started_at": None,
            "finished_at": None,
        }
        problems = [
            f"{field} is {row[field]!r}, not {value!r}"
            for field, value in expected.items()
            if row[field] != value
        ]
        if row["celery_task_id"] == "attacker-chosen-job":
            problems.append("the Celery job id is the one the body chose")
        if row["created_at"] < self.started - timedelta(minutes=1):
            problems.append(f"created_at is {row['created_at']}, from the body")
        return problems

    # -- sending ------------------------------------------------------------------------------

    def send(self, auth: str, method: str, url: str, data: bytes, content_type: str):
        """One request as alice, in a transaction rolled back afterwards (a cancel, a revoked
        token or an upload in one request changes nothing the next one sees). Returns the
        answer's status (500 for an exception) and what changed."""
        with transaction.atomic():
            before = self.snapshot()
            if auth == "session":
                client, headers = self.client, {}
                # A POST to logout signs her out: every request signs in afresh.
                client.force_login(self.alice)
            else:
                client, headers = self.token_client, {"Authorization": f"Token {self.key}"}
            try:
                response = client.generic(
                    method, url, data=data, content_type=content_type, headers=headers
                )
                status, error = response.status_code, ""
            except Exception as exc:  # the test client re-raises a view's exception
                status, error = 500, f"{type(exc).__name__}: {exc}"
                transaction.set_rollback(True)
                return status, error, None, None
            after = self.snapshot()
            transaction.set_rollback(True)
        return status, error, before, after

    def test_no_endpoint_lets_a_participant_write_status_or_flags(self):
        problems: list[str] = []
        writable: set[str] = set()
        created: dict[str, int] = {}
        cancelled = 0
        requests = 0
        found = routes()
        self.assertGreater(len(found), 40, "URL discovery found almost nothing")
        for name, pattern in found:
            for url in self.urls(name, pattern):
                for method in WRITE_METHODS:
                    for auth in ("session", "token"):
                        for body in self.bodies():
                            for encoding in ("json", "form", "multipart"):
                                data, content_type = self.encoded(body, encoding)
                                status, error, before, after = self.send(
                                    auth, method, url, data, content_type
                                )
                                requests += 1
                                where = (
                                    f"{method} {url} ({name}, {auth}, {encoding}, "
                                    f"status={body['status']}) -> {status}"
                                )
                                if status >= 500:
                                    problems.append(f"{where}: server error {error}")
                                    continue
                                if status == 405:
                                    # Refused before the view ran: no other body matters.
                                    break
                                if auth == "session":
                                    # Signed in: the token does not sign in to a page, and
                                    # login_required redirects before the method is checked.
                                    writable.add(name)
                                problems += self.compare(where, name, before, after)
                                new = set(after["submissions"]) - set(before["submissions"])
                                if new:
                                    created[name] = created.get(name, 0) + len(new)
                                old = before["submissions"].get(self.queued.pk)
                                new_queued = after["submissions"].get(self.queued.pk)
                                if old["status"] != new_queued["status"]:
                                    cancelled += 1
                            else:
                                continue
                            break
        self.assertEqual(problems, [], f"{len(problems)} problems in {requests} requests")
        # Discovery works: as many writable routes as today, the known ones among them.
        self.assertGreaterEqual(len(writable), MIN_WRITABLE_ROUTES, sorted(writable))
        self.assertEqual(MUST_BE_WRITABLE - writable, set(), sorted(writable))
        # The checks on new submissions and on the cancel allowance ran, for each way in.
        self.assertEqual(set(created), CREATE_ROUTES, created)
        self.assertGreater(cancelled, 0)

    # -- the admin ----------------------------------------------------------------------------

    def test_a_participant_gets_nothing_from_the_admin(self):
        self.assertFalse(self.alice.is_staff)
        change = reverse("admin:submissions_submission_change", args=[self.scored.pk])
        evaluation = self.scored.evaluations.first()
        evaluation_change = reverse("admin:submissions_evaluation_change", args=[evaluation.pk])
        changelist = reverse("admin:submissions_submission_changelist")
        flags = {
            "is_baseline": "on",
            "is_hidden": "on",
            "is_disqualified": "on",
            "moderation_reason": "Set by the participant.",
            "status": "failed",
            "error": "no",
            "progress": "0.5",
            "participant": str(self.bob.pk),
            "benchmark": str(self.other.pk),
            "evaluations-TOTAL_FORMS": "0",
            "evaluations-INITIAL_FORMS": "0",
        }
        posts = [
            (change, flags),
            (evaluation_change, {"metrics": '{"accuracy": {"value": 1.0, "ci": null}}'}),
            (changelist, {"action": "rescore", "_selected_action": [self.scored.pk]}),
            (changelist, {"action": "delete_selected", "_selected_action": [self.scored.pk]}),
        ]
        before = self.snapshot()
        login = reverse("admin:login")
        for auth in ("session", "token"):
            for url, data in posts:
                with self.subTest(auth=auth, url=url, action=data.get("action")):
                    if auth == "session":
                        self.client.force_login(self.alice)
                        response = self.client.post(url, data)
                    else:
                        response = self.token_client.post(
                            url, data, headers={"Authorization": f"Token {self.key}"}
                        )
                    self.assertEqual(response.status_code, 302)
                    self.assertTrue(response["Location"].startswith(login), response["Location"])
                    self.assertEqual(self.compare(url, "admin", before, self.snapshot()), [])
        # Not even her own submission's page opens.
        self.client.force_login(self.alice)
        self.assertEqual(self.client.get(change).status_code, 302)
