"""Who may do what, everywhere: every named URL of the URL conf (found by walking it, so a new
endpoint is included without asking), with its parameters filled by real objects, requested by
each role with GET and POST, against the statuses declared in MATRIX. A URL name missing from
MATRIX fails the test: whoever adds an endpoint declares who may use it. No answer to someone
who does not maintain the benchmark holds a hidden label.

Skipped: the admin's own URLs (the admin's permissions, tests/test_admin.py), except the
project's bundle import, and Django's authentication views."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from unittest import mock

from django.conf import settings
from django.db import transaction
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from accounts.services import api_token_create
from benchmarks.authors import author_grant
from benchmarks.models import Benchmark, Split
from submissions.models import Evaluation, Submission
from submissions.teams import team_create, team_invite
from tests.base import (
    PlatformTestCase,
    assert_no_hidden_labels,
    classification_rows,
    gold_rows,
    hidden_pairs,
    make_benchmark,
    make_scored_submission,
    make_split,
    make_user,
    prediction_csv,
    upload,
)
from tests.examples_artifacts import attach_gold_examples

# The columns of every row of MATRIX. `owner` is the participant who made the submission in the
# URL (alice where the URL names none), `other` the other participant, `other_author` a staff
# author who maintains another benchmark, `author` the maintainer of every benchmark here,
# `staff` a platform operator (superuser).
ROLES = ("anonymous", "owner", "other", "other_author", "author", "staff")
NOT_MAINTAINERS = ("anonymous", "owner", "other", "other_author")


@dataclass(frozen=True)
class Case:
    kwargs: dict = field(default_factory=dict)
    owner: str = "alice"


BENCHMARKS = {
    "public": Case({"slug": "sentiment"}),
    "unlisted": Case({"slug": "by-link-only"}),
    "private": Case({"slug": "private-bench"}),
    "closed": Case({"slug": "closed"}),
}


def split_case(slug: str, split: str) -> Case:
    return Case({"slug": slug, "task": "sst", "split": split})


SPLITS = {
    "public/train": split_case("sentiment", "train"),
    "public/dev (public)": split_case("sentiment", "dev"),
    "public/test (hidden)": split_case("sentiment", "test"),
    "public/pool (not downloadable)": split_case("sentiment", "pool"),
    "private/test": split_case("private-bench", "test"),
    "closed/test (after close)": split_case("closed", "test"),
}
FILE_SPLITS = {name: Case({**case.kwargs, "fmt": "csv"}) for name, case in SPLITS.items()}
BOARD_FILES = {name: Case({**case.kwargs, "fmt": "csv"}) for name, case in BENCHMARKS.items()}

# Submission ids are filled in by setUpTestData.
SUBMISSIONS = {
    "alice's, scored": "alice",
    "alice's, queued": "alice",
    "alice's on the private benchmark": "alice",
    "alice's on the closed benchmark": "alice",
    "bob's, scored": "bob",
}

EVERYONE = 200, 200, 200, 200, 200, 200
MAINTAINERS = 404, 404, 404, 404, 200, 200
NOBODY = 404, 404, 404, 404, 404, 404
NOT_ALLOWED = 405, 405, 405, 405, 405, 405
# Pages that need a login send anonymous users to it.
SIGNED_IN = 302, 200, 200, 200, 200, 200
SIGNED_IN_NOT_ALLOWED = 302, 405, 405, 405, 405, 405
# API endpoints that need a login: 401 first, whatever the method.
API_SIGNED_IN_NOT_ALLOWED = 401, 405, 405, 405, 405, 405
# A submission: its participant, the benchmark's maintainers and staff; a 404 to anyone else
# unless it is on a board they can see (its result page).
INSIDERS = 404, 200, 404, 404, 200, 200
# Acting on a submission is its participant's: others who may see it get a 403, the rest a 404.
OWNER_ACTS = 302, 302, 403, 403, 403, 403
OWNER_ACTS_UNSEEN = 302, 302, 404, 404, 403, 403


def each(cases: dict, get: tuple, post: tuple) -> dict:
    return {name: {"GET": get, "POST": post} for name in cases}


MATRIX: dict[str, dict[str, dict[str, tuple]]] = {
    # Pages.
    "benchmark_list": {"-": {"GET": EVERYONE, "POST": NOT_ALLOWED}},
    # Signed-in users are sent on; an empty form comes back with its errors.
    "signup": {
        "-": {"GET": (200, 302, 302, 302, 302, 302), "POST": (200, 302, 302, 302, 302, 302)}
    },
    # The API's OpenAPI schema and its docs page: public, read-only (405 as JSON).
    "schema": {"-": {"GET": EVERYONE, "POST": NOT_ALLOWED}},
    "api-docs": {"-": {"GET": EVERYONE, "POST": NOT_ALLOWED}},
    # Accounts: the profile and token pages are the signed-in user's own.
    "signup_done": {"-": {"GET": EVERYONE, "POST": NOT_ALLOWED}},
    "verification_resend": {"-": {"GET": EVERYONE, "POST": EVERYONE}},
    "email_verify": {"-": {"GET": (400,) * 6, "POST": NOT_ALLOWED}},
    "profile": {"-": {"GET": SIGNED_IN, "POST": (302,) * 6}},
    "api_tokens": {"-": {"GET": SIGNED_IN, "POST": SIGNED_IN}},
    "api_token_revoke": {
        "alice's token": {"GET": SIGNED_IN_NOT_ALLOWED, "POST": (302, 302, 404, 404, 404, 404)}
    },
    "benchmark_detail": {
        **each(["public", "unlisted", "closed"], EVERYONE, NOT_ALLOWED),
        "private": {"GET": MAINTAINERS, "POST": NOT_ALLOWED},
    },
    "split_inputs": {
        **each(
            ["public/train", "public/dev (public)", "public/test (hidden)"],
            EVERYONE,
            NOT_ALLOWED,
        ),
        "public/pool (not downloadable)": {"GET": NOBODY, "POST": NOT_ALLOWED},
        "private/test": {"GET": MAINTAINERS, "POST": NOT_ALLOWED},
        "closed/test (after close)": {"GET": EVERYONE, "POST": NOT_ALLOWED},
    },
    "leaderboard": {
        **each(["public", "unlisted", "closed"], EVERYONE, NOT_ALLOWED),
        "private": {"GET": MAINTAINERS, "POST": NOT_ALLOWED},
    },
    "leaderboard_export": {
        **each(["public", "unlisted", "closed"], EVERYONE, NOT_ALLOWED),
        "private": {"GET": MAINTAINERS, "POST": NOT_ALLOWED},
    },
    # The benchmark-level board: whoever sees the benchmark.
    "overall_board": {
        **each(["public", "unlisted", "closed"], EVERYONE, NOT_ALLOWED),
        "private": {"GET": MAINTAINERS, "POST": NOT_ALLOWED},
    },
    # POST: a valid prediction file. Accepted: a redirect to the new submission. Closed: the
    # form again, with the reason.
    "submission_create": {
        **each(["public", "unlisted"], SIGNED_IN, (302, 302, 302, 302, 302, 302)),
        "private": {"GET": (302, 404, 404, 404, 200, 200), "POST": (302, 404, 404, 404, 302, 302)},
        "closed": {"GET": SIGNED_IN, "POST": (302, 400, 400, 400, 400, 400)},
    },
    "my_submissions": {"-": {"GET": SIGNED_IN, "POST": SIGNED_IN_NOT_ALLOWED}},
    # On a board: its result page, for everyone who sees the board.
    "submission_detail": {
        **each(SUBMISSIONS, EVERYONE, NOT_ALLOWED),
        "alice's, queued": {"GET": INSIDERS, "POST": NOT_ALLOWED},
        "alice's on the private benchmark": {"GET": INSIDERS, "POST": NOT_ALLOWED},
    },
    # The live part of that page, which it polls: exactly as the page.
    "submission_progress": {
        **each(SUBMISSIONS, EVERYONE, NOT_ALLOWED),
        "alice's, queued": {"GET": INSIDERS, "POST": NOT_ALLOWED},
        "alice's on the private benchmark": {"GET": INSIDERS, "POST": NOT_ALLOWED},
    },
    # Only the participant cancels or keeps private (a redirect to the page, which says whether
    # it worked); others who may see the submission get a 403.
    "submission_cancel": {
        **each(SUBMISSIONS, SIGNED_IN_NOT_ALLOWED, OWNER_ACTS),
        "alice's, queued": {"GET": SIGNED_IN_NOT_ALLOWED, "POST": OWNER_ACTS_UNSEEN},
        "alice's on the private benchmark": {
            "GET": SIGNED_IN_NOT_ALLOWED,
            "POST": OWNER_ACTS_UNSEEN,
        },
    },
    "submission_privacy": {
        **each(SUBMISSIONS, SIGNED_IN_NOT_ALLOWED, OWNER_ACTS),
        "alice's, queued": {"GET": SIGNED_IN_NOT_ALLOWED, "POST": OWNER_ACTS_UNSEEN},
        "alice's on the private benchmark": {
            "GET": SIGNED_IN_NOT_ALLOWED,
            "POST": OWNER_ACTS_UNSEEN,
        },
    },
    # Teams: a signed-in participant's own team page on a benchmark they see; a POST is an
    # action (an empty one: "unknown action", back to the page).
    "team": {
        **each(["public", "unlisted", "closed"], SIGNED_IN, (302,) * 6),
        "private": {"GET": (302, 404, 404, 404, 200, 200), "POST": (302, 404, 404, 404, 302, 302)},
    },
    # The final mark: the submission's participant (or team); others who may see it get a 403.
    "submission_final": {
        **each(SUBMISSIONS, SIGNED_IN_NOT_ALLOWED, OWNER_ACTS),
        "alice's, queued": {"GET": SIGNED_IN_NOT_ALLOWED, "POST": OWNER_ACTS_UNSEEN},
        "alice's on the private benchmark": {
            "GET": SIGNED_IN_NOT_ALLOWED,
            "POST": OWNER_ACTS_UNSEEN,
        },
    },
    # The API.
    "api-benchmark-list": {"-": {"GET": EVERYONE, "POST": NOT_ALLOWED}},
    # One's own submissions: signed-in users only.
    "api-submission-list": {
        "-": {"GET": (401, 200, 200, 200, 200, 200), "POST": API_SIGNED_IN_NOT_ALLOWED}
    },
    # Any /api/ address that is no route: a JSON 404 for everyone, whatever the method.
    "api-route-not-found": {"-": {"GET": (404,) * 6, "POST": (404,) * 6}},
    "api-benchmark-detail": {
        **each(["public", "unlisted", "closed"], EVERYONE, NOT_ALLOWED),
        "private": {"GET": MAINTAINERS, "POST": NOT_ALLOWED},
    },
    "api-split-inputs": {
        **each(
            ["public/train", "public/dev (public)", "public/test (hidden)"],
            EVERYONE,
            NOT_ALLOWED,
        ),
        "public/pool (not downloadable)": {"GET": NOBODY, "POST": NOT_ALLOWED},
        "private/test": {"GET": MAINTAINERS, "POST": NOT_ALLOWED},
        "closed/test (after close)": {"GET": EVERYONE, "POST": NOT_ALLOWED},
    },
    "api-leaderboard": {
        **each(["public", "unlisted", "closed"], EVERYONE, NOT_ALLOWED),
        "private": {"GET": MAINTAINERS, "POST": NOT_ALLOWED},
    },
    # The board's best score over time: whoever sees the board.
    "api-leaderboard-history": {
        **each(["public", "unlisted", "closed"], EVERYONE, NOT_ALLOWED),
        "private": {"GET": MAINTAINERS, "POST": NOT_ALLOWED},
    },
    "api-overall-board": {
        **each(["public", "unlisted", "closed"], EVERYONE, NOT_ALLOWED),
        "private": {"GET": MAINTAINERS, "POST": NOT_ALLOWED},
    },
    # Exports: whoever sees the board gets it as a file.
    "api-leaderboard-export": {
        **each(["public", "unlisted", "closed"], EVERYONE, NOT_ALLOWED),
        "private": {"GET": MAINTAINERS, "POST": NOT_ALLOWED},
    },
    # POST: a valid prediction file; 403 once the benchmark has closed.
    "api-submission-create": {
        **each(["public", "unlisted"], API_SIGNED_IN_NOT_ALLOWED, (401, 201, 201, 201, 201, 201)),
        "private": {"GET": API_SIGNED_IN_NOT_ALLOWED, "POST": (401, 404, 404, 404, 201, 201)},
        "closed": {"GET": API_SIGNED_IN_NOT_ALLOWED, "POST": (401, 403, 403, 403, 403, 403)},
    },
    "api-submission-detail": {
        **each(SUBMISSIONS, EVERYONE, NOT_ALLOWED),
        "alice's, queued": {"GET": INSIDERS, "POST": NOT_ALLOWED},
        "alice's on the private benchmark": {"GET": INSIDERS, "POST": NOT_ALLOWED},
    },
    # A queued submission has nothing to break down yet.
    "api-submission-breakdown": {
        **each(SUBMISSIONS, EVERYONE, NOT_ALLOWED),
        "alice's, queued": {"GET": NOBODY, "POST": NOT_ALLOWED},
        "alice's on the private benchmark": {"GET": INSIDERS, "POST": NOT_ALLOWED},
    },
    # Its scores as a model card's model-index: those who see its results; none when queued.
    "api-submission-model-index": {
        **each(SUBMISSIONS, EVERYONE, NOT_ALLOWED),
        "alice's, queued": {"GET": NOBODY, "POST": NOT_ALLOWED},
        "alice's on the private benchmark": {"GET": INSIDERS, "POST": NOT_ALLOWED},
    },
    # Only the participant cancels; a finished submission cannot be cancelled (400).
    "api-submission-cancel": {
        **each(SUBMISSIONS, API_SIGNED_IN_NOT_ALLOWED, (401, 400, 403, 403, 403, 403)),
        "alice's, queued": {
            "GET": API_SIGNED_IN_NOT_ALLOWED,
            "POST": (401, 200, 404, 404, 403, 403),
        },
        "alice's on the private benchmark": {
            "GET": API_SIGNED_IN_NOT_ALLOWED,
            "POST": (401, 400, 404, 404, 403, 403),
        },
    },
    # Only the participant keeps a submission private (or public again).
    "api-submission-privacy": {
        **each(SUBMISSIONS, API_SIGNED_IN_NOT_ALLOWED, (401, 200, 403, 403, 403, 403)),
        "alice's, queued": {
            "GET": API_SIGNED_IN_NOT_ALLOWED,
            "POST": (401, 200, 404, 404, 403, 403),
        },
        "alice's on the private benchmark": {
            "GET": API_SIGNED_IN_NOT_ALLOWED,
            "POST": (401, 200, 404, 404, 403, 403),
        },
    },
    # The final mark: its participant (an empty body: 400), a 403 for others who may see it.
    "api-submission-final": {
        **each(SUBMISSIONS, API_SIGNED_IN_NOT_ALLOWED, (401, 400, 403, 403, 403, 403)),
        "alice's, queued": {
            "GET": API_SIGNED_IN_NOT_ALLOWED,
            "POST": (401, 400, 404, 404, 403, 403),
        },
        "alice's on the private benchmark": {
            "GET": API_SIGNED_IN_NOT_ALLOWED,
            "POST": (401, 400, 404, 404, 403, 403),
        },
    },
    # Teams: one's own, on a benchmark one sees; an empty POST is a 400 saying what to send
    # (leave: "in no team").
    "api-team": {
        **each(
            ["public", "unlisted", "closed"], (401, 200, 200, 200, 200, 200), (401,) + (400,) * 5
        ),
        "private": {"GET": (401, 404, 404, 404, 200, 200), "POST": (401, 404, 404, 404, 400, 400)},
    },
    "api-team-invite": {
        **each(["public", "unlisted", "closed"], API_SIGNED_IN_NOT_ALLOWED, (401,) + (400,) * 5),
        "private": {"GET": API_SIGNED_IN_NOT_ALLOWED, "POST": (401, 404, 404, 404, 400, 400)},
    },
    "api-team-leave": {
        **each(["public", "unlisted", "closed"], API_SIGNED_IN_NOT_ALLOWED, (401,) + (400,) * 5),
        "private": {"GET": API_SIGNED_IN_NOT_ALLOWED, "POST": (401, 404, 404, 404, 400, 400)},
    },
    # An invitation is answered by whom it invites (an empty body: 400); a 404 for anyone else.
    "api-team-invitation-answer": {
        "carol invites alice": {
            "GET": API_SIGNED_IN_NOT_ALLOWED,
            "POST": (401, 400, 404, 404, 404, 404),
        }
    },
    # Staff only (a sweep submits a model everywhere), and JSON only: a form is a 415.
    "api-model-evaluate": {
        "-": {"GET": (401, 403, 403, 405, 405, 405), "POST": (401, 403, 403, 415, 415, 415)}
    },
    # The best models of a task type: public benchmarks only, the same for everyone.
    "task_type_list": {"-": {"GET": EVERYONE, "POST": NOT_ALLOWED}},
    "task_type_best": {"-": {"GET": EVERYONE, "POST": NOT_ALLOWED}},
    "api-task-type-list": {"-": {"GET": EVERYONE, "POST": NOT_ALLOWED}},
    "api-task-type-best": {"-": {"GET": EVERYONE, "POST": NOT_ALLOWED}},
    # Per-example analysis (submissions/analysis/). A submission's results: anyone who sees
    # the benchmark while it is on the boards, else its participant and maintainers; the first
    # public split by default, none for a queued submission. A thumbnail needs a row id.
    "submission_errors": {
        **each(SUBMISSIONS, EVERYONE, NOT_ALLOWED),
        "alice's, queued": {"GET": NOBODY, "POST": NOT_ALLOWED},
        "alice's on the private benchmark": {
            "GET": (404, 200, 404, 404, 200, 200),
            "POST": NOT_ALLOWED,
        },
    },
    "submission_example_image": each(SUBMISSIONS, NOBODY, NOT_ALLOWED),
    "api-submission-examples": {
        **each(SUBMISSIONS, EVERYONE, NOT_ALLOWED),
        "alice's, queued": {"GET": NOBODY, "POST": NOT_ALLOWED},
        "alice's on the private benchmark": {
            "GET": (404, 200, 404, 404, 200, 200),
            "POST": NOT_ALLOWED,
        },
    },
    # Without submissions: the page's picker; the API's 400 (2 to 4 submissions).
    "benchmark_compare": {
        **each(["public", "unlisted", "closed"], EVERYONE, NOT_ALLOWED),
        "private": {"GET": MAINTAINERS, "POST": NOT_ALLOWED},
    },
    "api-benchmark-compare": {
        **each(["public", "unlisted", "closed"], (400,) * 6, NOT_ALLOWED),
        "private": {"GET": (404, 404, 404, 404, 400, 400), "POST": NOT_ALLOWED},
    },
    # The admin: staff members with the author permissions; others are sent to its login. An
    # empty POST is the form again, with its errors.
    "admin:benchmarks_benchmark_import": {
        "-": {"GET": (302, 302, 302, 200, 200, 200), "POST": (302, 302, 302, 200, 200, 200)}
    },
}

# Which objects fill each URL's parameters (the cases of its row in MATRIX).
CASES = {
    "email_verify": {"-": Case({"uidb64": "MQ", "token": "not-a-token"})},
    "benchmark_detail": BENCHMARKS,
    "split_inputs": FILE_SPLITS,
    "leaderboard": BENCHMARKS,
    "leaderboard_export": BOARD_FILES,
    "overall_board": BENCHMARKS,
    "api-overall-board": BENCHMARKS,
    "submission_create": BENCHMARKS,
    "api-benchmark-detail": BENCHMARKS,
    "api-split-inputs": SPLITS,
    "api-leaderboard": BENCHMARKS,
    "api-leaderboard-export": BENCHMARKS,
    "api-leaderboard-history": BENCHMARKS,
    "api-submission-create": BENCHMARKS,
    "team": BENCHMARKS,
    "api-team": BENCHMARKS,
    "api-team-invite": BENCHMARKS,
    "api-team-leave": BENCHMARKS,
    "benchmark_compare": BENCHMARKS,
    "api-benchmark-compare": BENCHMARKS,
    "task_type_best": {"-": Case({"task_type": "text-classification"})},
    "api-task-type-best": {"-": Case({"task_type": "text-classification"})},
}
SUBMISSION_URLS = {
    "submission_detail": "pk",
    "submission_progress": "pk",
    "submission_cancel": "pk",
    "submission_privacy": "pk",
    "api-submission-privacy": "submission_id",
    "submission_final": "pk",
    "api-submission-final": "submission_id",
    "api-submission-detail": "submission_id",
    "api-submission-breakdown": "submission_id",
    "api-submission-model-index": "submission_id",
    "api-submission-cancel": "submission_id",
    "submission_errors": "pk",
    "submission_example_image": "pk",
    "api-submission-examples": "submission_id",
}
UPLOADS = {"submission_create", "api-submission-create"}
LISTS = {"benchmark_list", "api-benchmark-list"}


def url_names(resolver: URLResolver | None = None, namespace: str = "") -> list[str]:
    """Every URL name of the URL conf, namespaced, less those the module docstring skips. An
    unnamed pattern is listed by its route, so that it fails the test too."""
    names = []
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            names += url_names(entry, inner)
            continue
        assert isinstance(entry, URLPattern)
        name = namespace + (entry.name or f"<unnamed {entry.pattern}>")
        if name.startswith("admin:") and name != "admin:benchmarks_benchmark_import":
            continue
        if entry.lookup_str.startswith("django.contrib.auth."):
            continue
        names.append(name)
    return names


# Hundreds of requests from one address in a few seconds: no rate limits here.
@override_settings(THROTTLE_RATES=dict.fromkeys(settings.THROTTLE_RATES))
class AuthorizationMatrixTests(PlatformTestCase):
    maxDiff = None

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        author_grant(cls.author)
        cls.other_author = make_user("other-author")
        author_grant(cls.other_author)
        make_benchmark("elsewhere", maintainers=(cls.other_author,))
        rows = classification_rows("train", 6, ["zz-label-neg", "zz-label-pos"])
        make_split(cls.task, "train", Split.Role.TRAIN, rows)
        make_split(cls.task, "pool", Split.Role.TRAIN, rows, inputs_downloadable=False)
        maintained = {"maintainers": (cls.author,)}
        unlisted = make_benchmark(
            "by-link-only", visibility=Benchmark.Visibility.UNLISTED, **maintained
        )
        # Alice submitted to it before it was made private.
        private = make_benchmark(
            "private-bench", visibility=Benchmark.Visibility.PRIVATE, **maintained
        )
        closed = make_benchmark(
            "closed", closes_at=timezone.now() - timedelta(days=1), **maintained
        )
        closed.tasks.get().splits.filter(name="test").update(reveal=Split.Reveal.AFTER_CLOSE)
        cls.benchmarks = [cls.benchmark, unlisted, private, closed]

        scores = {"dev": {"accuracy": 0.8}, "test": {"accuracy": 0.7}}
        queued = Submission.objects.create(
            benchmark=cls.benchmark, participant=cls.alice, original_filename="predictions.csv"
        )
        cls.submission_ids = {
            "alice's, scored": make_scored_submission(cls.benchmark, cls.alice, scores).pk,
            "alice's, queued": queued.pk,
            "alice's on the private benchmark": make_scored_submission(
                private, cls.alice, scores
            ).pk,
            "alice's on the closed benchmark": make_scored_submission(closed, cls.alice, scores).pk,
            "bob's, scored": make_scored_submission(cls.benchmark, cls.bob, scores).pk,
        }
        cls.predictions = prediction_csv(gold_rows(cls.benchmark))
        cls.api_token, _ = api_token_create(user=cls.alice, name="matrix")
        carol = make_user("carol")
        team = team_create(benchmark=cls.benchmark, user=carol, name="carol's")
        cls.invitation = team_invite(team=team, by=carol, who="alice")
        # Per-example results of the public splits, for the error browser.
        for evaluation in Evaluation.objects.filter(split__role=Split.Role.PUBLIC):
            attach_gold_examples(evaluation)

    def setUp(self):
        # Accepted uploads are rolled back with their request; nothing is published.
        publish = mock.patch("submissions.tasks.score_submission.apply_async")
        publish.start()
        self.addCleanup(publish.stop)
        self.pairs = [pair for benchmark in self.benchmarks for pair in hidden_pairs(benchmark)]
        self.signed_in = None

    def cases(self, name: str) -> dict[str, Case]:
        if name in SUBMISSION_URLS:
            key = SUBMISSION_URLS[name]
            return {
                case: Case({key: self.submission_ids[case]}, owner=owner)
                for case, owner in SUBMISSIONS.items()
            }
        if name == "api_token_revoke":
            return {"alice's token": Case({"token_id": self.api_token.pk})}
        if name == "api-team-invitation-answer":
            return {"carol invites alice": Case({"invitation_id": self.invitation.pk})}
        return CASES.get(name, {"-": Case()})

    def user(self, role: str, case: Case):
        cast = {"alice": self.alice, "bob": self.bob}
        if role == "owner":
            return cast[case.owner]
        if role == "other":
            return cast["bob" if case.owner == "alice" else "alice"]
        return {
            "anonymous": None,
            "other_author": self.other_author,
            "author": self.author,
            "staff": self.staff,
        }[role]

    def request(self, method: str, url: str, user, data: dict):
        if user != self.signed_in:
            self.client.logout()
            if user is not None:
                self.client.force_login(user)
            self.signed_in = user
        # Each request in a transaction of its own, rolled back: a cancel or an upload in one
        # cell changes nothing the next one sees.
        with transaction.atomic():
            response = getattr(self.client, method.lower())(url, data)
            transaction.set_rollback(True)
        return response

    def post_data(self, name: str) -> dict:
        if name in UPLOADS:
            return {"file": upload(self.predictions), "name": "matrix"}
        if name in ("submission_privacy", "api-submission-privacy"):
            return {"private": "1"}
        return {}

    def leaks(self, name: str, role: str, response) -> list[str]:
        """What the answer shows that its reader may not see: a hidden label, the private
        benchmark (known only to its maintainers, staff and alice, who submitted to it), the
        unlisted one in a list."""
        if role not in NOT_MAINTAINERS:
            return []
        assert_no_hidden_labels(self, response.content, self.pairs)
        # Pages quote their own path (the login link's `next`): that the reader already knows.
        path = response.request["PATH_INFO"]
        content = response.content.decode("utf-8", "replace").replace(path, "").lower()
        user = self.signed_in
        shown = []
        if user != self.alice and "private-bench" in content:
            shown.append("the private benchmark")
        if name in LISTS and "by-link-only" in content:
            shown.append("the unlisted benchmark")
        return [f"{name} {path} as {role} shows {s}" for s in shown]

    def test_every_url_answers_each_role_as_declared(self):
        names = url_names()
        undeclared = sorted(set(names) - set(MATRIX))
        self.assertEqual(undeclared, [], "URL names missing from MATRIX: declare who may use them")
        self.assertEqual(sorted(set(MATRIX) - set(names)), [], "MATRIX names unknown URLs")

        wrong, cells = [], 0
        for name in names:
            cases = self.cases(name)
            self.assertEqual(set(cases), set(MATRIX[name]), f"{name}: cases of MATRIX")
            for case_name, case in cases.items():
                url = reverse(name, kwargs=case.kwargs)
                for method in ("GET", "POST"):
                    expected = dict(zip(ROLES, MATRIX[name][case_name][method], strict=True))
                    for role in ROLES:
                        data = self.post_data(name) if method == "POST" else {}
                        response = self.request(method, url, self.user(role, case), data)
                        cells += 1
                        if response.status_code != expected[role]:
                            wrong.append(
                                f"{name} [{case_name}] {method} as {role}: "
                                f"{response.status_code}, expected {expected[role]}"
                            )
                        wrong += self.leaks(name, role, response)
        self.assertEqual(wrong, [], f"{len(wrong)} of {cells} cells")
