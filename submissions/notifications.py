"""The e-mail a participant gets when a submission of theirs is scored or fails, unless they
turned it off (`accounts.selectors.wants_result_email`). The worker sends it after the commit
that records the outcome (`pipeline.submission_record`, `pipeline.submission_fail`). It says
what the participant's own page shows them, no more: the primary score of each split whose
scores they may see now (aggregates, as on the page), or the participant-safe error; never a
label nor anything per example."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.selectors import display_name, wants_result_email
from submissions.models import Submission
from submissions.selectors import visible_evaluations

logger = logging.getLogger(__name__)

MAILED_STATES = frozenset({Submission.Status.SCORED, Submission.Status.FAILED})


def site_url(path: str) -> str:
    """An absolute address on the site for messages read outside it (no request to build it
    from in the worker): SITE_URL and the path."""
    return settings.SITE_URL + path


def result_email_send(*, submission_id: int) -> bool:
    """E-mail the participant the outcome of their scored or failed submission; whether a mail
    went out. Never raises: the outcome is recorded already, and a mail that cannot be sent (a
    mail server down, an address refused, the database gone) is logged by the type of its
    error, whose message may quote an address, and dropped."""
    try:
        return _result_email_send(submission_id)
    except Exception as exc:
        logger.warning(
            "The result e-mail of submission %s could not be sent (%s).",
            submission_id,
            type(exc).__name__,
        )
        return False


def _result_email_send(submission_id: int) -> bool:
    submission = (
        Submission.objects.select_related("benchmark", "participant")
        .filter(pk=submission_id)
        .first()
    )
    if submission is None or submission.status not in MAILED_STATES:
        return False
    participant = submission.participant
    if not wants_result_email(participant):
        return False
    scored = submission.status == Submission.Status.SCORED
    context = {
        "name": display_name(participant),
        "submission": submission,
        "scored": scored,
        # As the participant's page shows them: withheld until the close where it says so.
        "results": visible_evaluations(participant, submission) if scored else [],
        "url": site_url(reverse("submission_detail", args=[submission.pk])),
        "profile_url": site_url(reverse("profile")),
    }
    subject = render_to_string("submissions/result_email_subject.txt", context)
    body = render_to_string("submissions/result_email.txt", context)
    # One line: a subject with a line break (a submission's name may hold one) is refused.
    send_mail(" ".join(subject.split()), body, settings.DEFAULT_FROM_EMAIL, [participant.email])
    return True
