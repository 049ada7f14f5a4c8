"""Pages of teams and final selection: a benchmark's team page (create, invite, answer an
invitation, leave) and the final mark on a submission's page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from benchmarks.access import get_benchmark_for
from submissions import finals, teams
from submissions.access import get_result_for


def _act(request, benchmark, team) -> None:
    """One POSTed team action; its outcome becomes a message."""
    action = request.POST.get("action")
    if action == "create":
        created = teams.team_create(
            benchmark=benchmark, user=request.user, name=request.POST.get("name", "")
        )
        messages.success(request, f"You created the team {created.name}.")
    elif action == "invite" and team is not None:
        invitation = teams.team_invite(team=team, by=request.user, who=request.POST.get("who", ""))
        who = invitation.user.username if invitation.user else invitation.email
        messages.success(request, f"{who} is invited.")
    elif action in ("accept", "decline"):
        invitation = get_object_or_404(
            teams.invitations_for(user=request.user, benchmark=benchmark),
            pk=request.POST.get("invitation") or 0,
        )
        teams.invitation_answer(invitation=invitation, user=request.user, accept=action == "accept")
        if action == "accept":
            messages.success(request, f"You joined the team {invitation.team.name}.")
        else:
            messages.success(request, "Invitation declined.")
    elif action == "leave" and team is not None:
        teams.team_leave(team=team, user=request.user)
        messages.success(request, f"You left the team {team.name}.")
    else:
        messages.error(request, "Unknown action.")


@login_required
@require_http_methods(["GET", "POST"])
def team(request, slug):
    """Your team on a benchmark: its members and open invitations, or the forms to create one
    and the invitations you may accept."""
    benchmark = get_benchmark_for(request.user, slug)
    current = teams.team_of(benchmark=benchmark, user=request.user)
    if request.method == "POST":
        try:
            _act(request, benchmark, current)
        except teams.TeamError as exc:
            messages.error(request, exc.message)
        return redirect("team", slug=benchmark.slug)
    context = {
        "benchmark": benchmark,
        "team": current,
        "members": current.members.select_related("user") if current else [],
        "pending": (
            current.invitations.filter(answered_at__isnull=True).select_related("user")
            if current
            else []
        ),
        "invitations": teams.invitations_for(user=request.user, benchmark=benchmark),
        "max_team_size": teams.MAX_TEAM_SIZE,
    }
    return render(request, "submissions/team.html", context)


@login_required
@require_POST
def submission_final(request, pk):
    """Mark a submission as final, or unmark it (its participant or team)."""
    submission = get_result_for(request.user, pk)
    if not finals.may_select(request.user, submission):
        raise PermissionDenied("Only its participant or their team choose final submissions.")
    try:
        finals.submission_select_final(
            submission=submission, user=request.user, selected=request.POST.get("final") == "1"
        )
    except finals.FinalError as exc:
        messages.error(request, exc.message)
    else:
        if submission.selected_final:
            messages.success(request, "Marked as final: the final board ranks it.")
        else:
            messages.success(request, "No longer marked as final.")
    return redirect("submission_detail", pk=submission.pk)
