"""Teams (docs/teams.md): create, invite by username or e-mail, accept or decline, leave. A
participant is in one team per benchmark at most (the database says so too). A team's members
share one quota and one row on each board: a submission is made for the submitter's team, and
joining a team brings one's earlier submissions on the benchmark into it, so that nobody gains
quota or a second board row by moving. A member who has submitted for a team cannot leave it.

Every change that moves submissions between groups refreshes the board entries in its own
transaction. Locks are taken user first, then team, as submissions take them
(`services._save_and_enqueue`), so that quota counts and membership never race."""

from __future__ import annotations

import logging

from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from benchmarks.models import Benchmark
from submissions.board_entries import entries_refresh
from submissions.models import Submission, Team, TeamInvitation, TeamMember
from submissions.notifications import site_url

logger = logging.getLogger(__name__)

MAX_TEAM_SIZE = 20


class TeamError(Exception):
    """A team action that cannot be done, with a message the participant can act on."""

    def __init__(self, message: str, *, status_code: int = 400):
        self.message = message
        self.status_code = status_code
        super().__init__(message)


def team_of(*, benchmark: Benchmark, user) -> Team | None:
    """The user's team on the benchmark, or None."""
    if not user.is_authenticated:
        return None
    member = (
        TeamMember.objects.filter(benchmark=benchmark, user=user).select_related("team").first()
    )
    return member.team if member else None


def invitations_for(*, user, benchmark: Benchmark | None = None):
    """Open invitations a user may answer: to their account, or to their e-mail address."""
    found = TeamInvitation.objects.filter(answered_at__isnull=True)
    mine = Q(user=user)
    if user.email:
        mine |= Q(user__isnull=True, email__iexact=user.email)
    found = found.filter(mine).select_related("team", "team__benchmark", "invited_by")
    if benchmark is not None:
        found = found.filter(team__benchmark=benchmark)
    return found


def _lock_user(user) -> None:
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()


def _open_for_teams(benchmark: Benchmark) -> None:
    if benchmark.is_draft:
        raise TeamError("This benchmark is not published yet.", status_code=403)
    if benchmark.is_closed():
        raise TeamError("This benchmark has closed: teams can no longer change.", status_code=403)


def _join(team: Team, user) -> None:
    """Add `user` to `team` (in the caller's transaction, user then team locked) and bring the
    user's own submissions on the benchmark into the team."""
    if team_of(benchmark=team.benchmark, user=user) is not None:
        raise TeamError("You are already in a team on this benchmark: leave it first.")
    if team.members.count() >= MAX_TEAM_SIZE:
        raise TeamError(f"This team is full ({MAX_TEAM_SIZE} members).")
    own = Submission.objects.filter(
        benchmark=team.benchmark, participant=user, team__isnull=True, is_baseline=False
    )
    _check_merged_quota(team, own)
    try:
        with transaction.atomic():
            TeamMember.objects.create(team=team, benchmark=team.benchmark, user=user)
    except IntegrityError:
        raise TeamError("You are already in a team on this benchmark: leave it first.") from None
    moved = list(own.values_list("pk", flat=True))
    if moved:
        Submission.objects.filter(pk__in=moved).update(team=team)
        entries_refresh(moved)


def _check_merged_quota(team: Team, own) -> None:
    """Joining must not lift a team over its total quota (per phase, where there are phases)."""
    benchmark = team.benchmark
    limits = [(phase, phase.limits()[0]) for phase in benchmark.phases.all()] or [
        (None, benchmark.max_total)
    ]
    for phase, limit in limits:
        if limit is None:
            continue
        scope = {"phase": phase} if phase is not None else {}
        counted = Submission.objects.filter(**scope).counting_towards_quota()
        together = (
            counted.filter(team=team).count() + counted.filter(pk__in=own.values("pk")).count()
        )
        if together > limit:
            where = f" in the phase '{phase.slug}'" if phase is not None else ""
            raise TeamError(
                f"Together you would have {together} submissions{where}, over the limit of "
                f"{limit} per team: you cannot join this team."
            )


def team_create(*, benchmark: Benchmark, user, name: str) -> Team:
    """A new team on the benchmark, with `user` its first member."""
    _open_for_teams(benchmark)
    name = " ".join(name.split())[:100]
    if not name:
        raise TeamError("Give the team a name.")
    with transaction.atomic():
        _lock_user(user)
        if team_of(benchmark=benchmark, user=user) is not None:
            raise TeamError("You are already in a team on this benchmark: leave it first.")
        try:
            with transaction.atomic():
                team = Team.objects.create(benchmark=benchmark, name=name, created_by=user)
        except IntegrityError:
            raise TeamError(f"A team named '{name}' already exists on this benchmark.") from None
        Team.objects.select_for_update().filter(pk=team.pk).first()
        _join(team, user)
    return team


def team_invite(*, team: Team, by, who: str) -> TeamInvitation:
    """Invite an account (by username, or by the e-mail address of an account) or an e-mail
    address with no account yet; the invited person hears of it by e-mail where an address is
    known. Only members invite."""
    _open_for_teams(team.benchmark)
    if not TeamMember.objects.filter(team=team, user=by).exists():
        raise TeamError("Only the team's members can invite.", status_code=403)
    who = who.strip()
    if not who:
        raise TeamError("Give a username or an e-mail address.")
    users = get_user_model().objects
    user = users.filter(username__iexact=who).first()
    email = ""
    if user is None and "@" in who:
        user = users.filter(email__iexact=who).first()
        email = "" if user else who.lower()[:254]
    if user is None and not email:
        raise TeamError(f"No participant is called '{who[:100]}'.")
    if user is not None:
        if user.pk == by.pk:
            raise TeamError("You are in this team already.")
        if team_of(benchmark=team.benchmark, user=user) is not None:
            raise TeamError(f"{user.username} is already in a team on this benchmark.")
        pending = Q(user=user)
    else:
        pending = Q(email__iexact=email)
    if team.invitations.filter(pending, answered_at__isnull=True).exists():
        raise TeamError("They are invited already.")
    invitation = TeamInvitation.objects.create(team=team, user=user, email=email, invited_by=by)
    _invitation_mail(invitation)
    return invitation


def _invitation_mail(invitation: TeamInvitation) -> None:
    address = invitation.user.email if invitation.user else invitation.email
    if not address:
        return
    team = invitation.team
    link = site_url(reverse("team", args=[team.benchmark.slug]))
    try:
        send_mail(
            f"Join the team {team.name} on {team.benchmark.title}",
            f"{invitation.invited_by.username} invites you to the team {team.name} on the "
            f"benchmark {team.benchmark.title}.\n\nAccept or decline on {link} "
            "(sign in, or sign up with this e-mail address first).",
            None,
            [address],
        )
    except Exception as exc:  # the invitation stands; the page lists it
        logger.warning("team invitation mail not sent: %s", type(exc).__name__)


def invitation_answer(*, invitation: TeamInvitation, user, accept: bool) -> TeamInvitation:
    """Accept (join the team) or decline an open invitation addressed to `user`."""
    mine = invitation.user_id == user.pk or (
        invitation.user_id is None and user.email and invitation.email.lower() == user.email.lower()
    )
    if not mine:
        raise TeamError("This invitation is not addressed to you.", status_code=403)
    with transaction.atomic():
        _lock_user(user)
        team = (
            Team.objects.select_for_update().select_related("benchmark").get(pk=invitation.team_id)
        )
        if accept:
            _open_for_teams(team.benchmark)
        answered = TeamInvitation.objects.filter(pk=invitation.pk, answered_at__isnull=True).update(
            answered_at=timezone.now(), accepted=accept, user=user
        )
        if not answered:
            raise TeamError("This invitation has been answered already.")
        if accept:
            _join(team, user)
    invitation.refresh_from_db()
    return invitation


def team_leave(*, team: Team, user) -> None:
    """Leave a team. A member who has submitted for it stays: their submissions count in the
    team's quota and board row, and leaving would let them start afresh."""
    with transaction.atomic():
        _lock_user(user)
        Team.objects.select_for_update().filter(pk=team.pk).first()
        member = TeamMember.objects.filter(team=team, user=user).first()
        if member is None:
            raise TeamError("You are not in this team.")
        if Submission.objects.filter(team=team, participant=user).exists():
            raise TeamError(
                "You have submitted for this team, so you stay in it: your submissions count "
                "in its quota and on its board row."
            )
        member.delete()
        if not team.members.exists():  # nobody left to answer for it
            team.invitations.filter(answered_at__isnull=True).delete()
