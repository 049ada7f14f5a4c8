"""Access to submissions: the owner, the benchmark's maintainers and staff; a 404 to anyone else
so that ids cannot be probed."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404

from benchmarks.access import can_maintain
from submissions.models import Submission


def can_see_submission(user, submission: Submission) -> bool:
    if not user.is_authenticated:
        return False
    return submission.participant_id == user.pk or can_maintain(user, submission.benchmark)


def get_submission_for(user, submission_id: int) -> Submission:
    submission = (
        Submission.objects.select_related("benchmark", "participant", "task")
        .filter(pk=submission_id)
        .first()
    )
    if submission is None or not can_see_submission(user, submission):
        raise Http404("No such submission.")
    return submission


def get_own_submission_for(user, submission_id: int) -> Submission:
    """A submission its participant acts on (cancel): others who may see it get a 403, the
    rest a 404."""
    submission = get_submission_for(user, submission_id)
    if submission.participant_id != user.pk:
        raise PermissionDenied("Only the participant who made a submission can cancel it.")
    return submission
