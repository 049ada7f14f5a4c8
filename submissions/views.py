from __future__ import annotations

import math
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRefresh

from benchmarks.access import can_view, get_benchmark_for
from submissions import analysis, charts, exports, finals, history, services
from submissions.access import (
    can_see_submission,
    get_own_submission_for,
    get_result_for,
    is_on_boards,
)
from submissions.board_entries import board_cached, group_ranks
from submissions.boards import leaderboard_for, leaderboard_from_query
from submissions.forms import ModelSubmissionForm, SubmissionForm
from submissions.models import Evaluation, Submission
from submissions.selectors import (
    SelectionError,
    queue_wait,
    result_details,
    visible_evaluations,
)
from submissions.teams import team_of


@login_required
@require_http_methods(["GET", "POST"])
def submission_create(request, slug):
    """One page, two forms: a prediction file, and (where the benchmark takes them) a model."""
    benchmark = get_benchmark_for(request.user, slug)
    status = 200
    takes_models = "model" in benchmark.kinds
    form = SubmissionForm(benchmark=benchmark) if "predictions" in benchmark.kinds else None
    model_form = ModelSubmissionForm(benchmark=benchmark) if takes_models else None
    if request.method == "POST":
        is_model = request.POST.get("kind") == "model"
        bound_class = ModelSubmissionForm if is_model else SubmissionForm
        bound = bound_class(request.POST, request.FILES, benchmark=benchmark)
        if is_model:
            model_form = bound
        else:
            form = bound
        if bound.is_valid():
            fields = bound.cleaned_data
            common = {
                "benchmark": benchmark,
                "participant": request.user,
                "task": fields.get("task"),
                "name": fields["name"],
                "description": fields["description"],
                "links": {k: fields.get(k) or "" for k in ("paper_url", "code_url")},
                "private": fields.get("private", False),
                "phase": fields.get("phase") or None,
            }
            try:
                if is_model:
                    submission = services.submission_create_model(
                        repo_id=fields["repo_id"].strip(),
                        revision=fields["revision"].strip(),
                        archive=fields.get("model_archive"),
                        **common,
                    )
                else:
                    submission = services.submission_create(uploaded_file=fields["file"], **common)
            except services.SubmissionError as exc:
                for message in exc.messages:
                    bound.add_error(None, message)
            else:
                what = "the model is queued to run" if is_model else "it is queued for scoring"
                messages.success(request, f"Submission received: {what}.")
                return redirect("submission_detail", pk=submission.pk)
        status = 400
    team = team_of(benchmark=benchmark, user=request.user)
    try:
        phase = services.submission_phase(benchmark=benchmark)
    except services.SubmissionError as exc:  # no phase open: the form says why
        phase, closed = None, " ".join(exc.messages)
    else:
        closed = None
    context = {
        "benchmark": benchmark,
        "form": form,
        "model_form": model_form,
        "team": team,
        "phase": phase,
        "phase_closed": closed,
        "quota": services.submission_quota(
            benchmark=benchmark, participant=request.user, phase=phase, team=team
        ),
    }
    return render(request, "submissions/submission_form.html", context, status=status)


def _result_url(request, pk: int) -> str:
    return request.build_absolute_uri(reverse("submission_detail", args=[pk]))


@require_GET
def submission_detail(request, pk):
    """A submission's page: its status for the owner and maintainers; its public result page
    (metrics, breakdowns, provenance) for anyone who can see a board it is shown on."""
    submission = get_result_for(request.user, pk)
    results = []
    if submission.status == Submission.Status.SCORED:
        results = [
            result if result["withheld"] else result_details(result)
            for result in visible_evaluations(request.user, submission)
        ]
        for result in results:
            result.update(charts.charts_for(result))
        ranks = _board_ranks(request.user, submission, results)
        for result in results:
            result["board_rank"] = ranks.get(result["evaluation"].split_id)
    context = {
        "submission": submission,
        "results": results,
        "is_owner": submission.participant_id == request.user.pk,
        "may_select_final": submission.benchmark.max_final is not None
        and not submission.benchmark.is_closed()
        and finals.may_select(request.user, submission),
        "is_insider": can_see_submission(request.user, submission),
        "on_boards": is_on_boards(submission),
        "model_url": submission.hub_url,
        "waiting": queue_wait(submission),
        "min_slice_size": settings.MIN_SLICE_SIZE,
        # A model card's `model-index` of the scores shown here, to copy.
        "model_index": exports.model_index_yaml(
            submission, results, result_url=_result_url(request, submission.pk)
        ),
    }
    return render(request, "submissions/submission_detail.html", context)


def _board_ranks(user, submission: Submission, results: list[dict]) -> dict[int, dict]:
    """{split pk: {"rank", "submission_id"}}: where the submission's participant (a baseline:
    the submission itself) stands on the default board of each split whose board `user` may
    see (the benchmark visible to them, scores not withheld), ranked on the task's primary
    metric (`board_entries.group_ranks`)."""
    shown = [r for r in results if not r["withheld"]]
    if not shown or not can_view(user, submission.benchmark):
        return {}
    boards = [(r["evaluation"].split_id, r["primary"]) for r in shown]
    return group_ranks(submission.group, boards)


@never_cache
@require_GET
def submission_progress(request, pk):
    """The live part of a submission's page (status, stage, place in the queue, progress, the
    error), which the page polls while the submission is queued or running. Once final it
    stops polling and has the page bring in the rest (results, actions) without a reload.
    Seen by exactly those who see the page, and nothing the page would not show them."""
    submission = get_result_for(request.user, pk)
    context = {"submission": submission, "waiting": queue_wait(submission), "live": True}
    return render(request, "submissions/submission_progress.html", context)


@login_required
@require_POST
def submission_privacy(request, pk):
    """The owner keeps a submission private, or shows it on the boards again."""
    submission = get_own_submission_for(request.user, pk)
    private = request.POST.get("private") == "1"
    services.submission_set_private(submission=submission, private=private)
    if private:
        messages.success(request, "This submission is private now: it is off the public boards.")
    else:
        messages.success(request, "This submission is public again.")
    return redirect("submission_detail", pk=submission.pk)


@login_required
@require_POST
def submission_cancel(request, pk):
    submission = get_own_submission_for(request.user, pk)
    try:
        services.submission_cancel(submission=submission)
    except services.SubmissionError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Submission cancelled.")
    return redirect("submission_detail", pk=submission.pk)


def login_required_polled(view):
    """`login_required` for a page that polls itself: a poll from a browser signed out since
    (in another tab) reloads the page (HX-Refresh), which then asks to log in, instead of
    getting the login page swapped into the polled part."""
    checked = login_required(view)

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.htmx and not request.user.is_authenticated:
            return HttpResponseClientRefresh()
        return checked(request, *args, **kwargs)

    return wrapped


@login_required_polled
@require_GET
def my_submissions(request):
    evaluations = Evaluation.objects.select_related("task", "split").order_by(
        "task__position", "split__position"
    )
    submissions = (
        Submission.objects.filter(participant=request.user)
        .select_related("benchmark", "team", "phase")
        .prefetch_related(Prefetch("evaluations", queryset=evaluations))
    )
    page = Paginator(submissions, 50).get_page(request.GET.get("page"))
    for submission in page:
        for evaluation in submission.evaluations.all():
            # scores_visible() reads split.task.benchmark: hand it the rows already loaded
            # instead of two queries per evaluation.
            evaluation.task.benchmark = submission.benchmark
            evaluation.split.task = evaluation.task
    # While any submission on the page is queued or running, the table polls this view, which
    # answers htmx with the table alone (the same queries).
    context = {"page": page, "live": any(not submission.is_final for submission in page)}
    if request.htmx:
        response = render(request, "submissions/my_submissions_table.html", context)
    else:
        response = render(request, "submissions/my_submissions.html", context)
    patch_vary_headers(response, ["HX-Request"])  # one address, two answers: cache them apart
    return response


@require_GET
def leaderboard(request, slug):
    benchmark = get_benchmark_for(request.user, slug)
    try:
        view = leaderboard_from_query(request.user, benchmark, request.GET, extra=("page",))
    except SelectionError as exc:
        if exc.status_code == 404:
            raise Http404(exc.message) from None
        # The same answer as the API's, in the page: what was wrong and what to use instead.
        plain = {k: request.GET.get(k) for k in ("task", "split")}
        view = leaderboard_for(request.user, benchmark, sort=None, **plain)
        context = {
            **view.context(),
            **history.history_page(view),
            "error": exc.message,
            "export_query": view.query(),
        }
        context |= _board_table(request, view, context["links"])
        return render(request, "submissions/leaderboard.html", context, status=400)
    context = {
        **view.context(),
        **history.history_page(view),
        "export_query": view.query(),
    }
    context |= _board_table(request, view, context["links"])
    return render(request, "submissions/leaderboard.html", context)


def _board_table(request, view, links: dict) -> dict:
    """The board's table on this page, rendered, kept until the split's boards change (per
    viewer: their own rows are marked)."""
    page = request.GET.get("page")
    if view.split is None or view.withheld:
        return {"board": None}

    def render_table() -> dict:
        found = _board_page(view, page)
        html = render_to_string(
            "submissions/leaderboard_table.html", {**found, "links": links, "user": request.user}
        )
        return {"board_table": html, "board_rows": len(found["board"].rows)}

    key = f"page:{request.user.pk or 0}:{view.query(page=page)}"
    return board_cached(view.split.pk, key, render_table)


BOARD_PAGE_ROWS = 100


def _board_page(view, page: str | None) -> dict:
    """The board's rows on this page (BOARD_PAGE_ROWS a page, read a page at a time; a page
    past the end shows the last, one that is no number the first), and links to the others
    that keep the view."""
    try:
        number = max(int(page or 1), 1)
    except ValueError:
        number = 1
    board = view.page((number - 1) * BOARD_PAGE_ROWS, BOARD_PAGE_ROWS)
    if board is None:
        return {"board": None}
    pages = max(1, math.ceil(board.total / BOARD_PAGE_ROWS))
    if number > pages:
        number = pages
        board = view.page((number - 1) * BOARD_PAGE_ROWS, BOARD_PAGE_ROWS)
    links = {
        "previous": "?" + view.query(page=number - 1) if number > 1 else None,
        "next": "?" + view.query(page=number + 1) if number < pages else None,
    }
    rows_page = {
        "number": number,
        "num_pages": pages,
        "count": board.total,
        "start_index": board.start + 1 if board.rows else 0,
        "end_index": board.start + len(board.rows),
    }
    return {"board": board, "rows": board.rows, "rows_page": rows_page, "rows_links": links}


@require_GET
def leaderboard_export(request, slug, fmt):
    """The board the page shows for the same query parameters, every row, as CSV or JSON."""
    benchmark = get_benchmark_for(request.user, slug)
    try:
        export = exports.board_export_for(
            request.user,
            benchmark,
            request.GET,
            fmt,
            result_url=lambda pk: _result_url(request, pk),
        )
    except SelectionError as exc:
        # A file link, not a page: the reason in plain text, word for word as the API gives it.
        return HttpResponse(
            exc.message, status=exc.status_code, content_type="text/plain; charset=utf-8"
        )
    return export.response()


# Per-example analysis (submissions/analysis/): the error browser of a public split, the
# thumbnails it shows, and comparisons of submissions.


def _page_link(request, page: int) -> str:
    query = request.GET.copy()
    query["page"] = str(page)
    return f"?{query.urlencode()}"


@require_GET
def submission_errors(request, pk):
    """The error browser: one public-split evaluation's rows, filtered by slice cell, gold and
    predicted label, correctness and text, worst first, 50 a page. Hidden, train and withheld
    splits: the page says why (403/404), and reads none of their rows."""
    submission = analysis.submission_for(request.user, pk)
    params = request.GET
    context = {
        "submission": submission,
        "browsable": analysis.browsable(request.user, submission),
    }
    try:
        browser = analysis.error_browser(
            request.user, submission, task=params.get("task"), split=params.get("split")
        )
    except SelectionError as exc:
        context["refusal"] = exc.message
        return render(request, "submissions/errors.html", context, status=exc.status_code)
    target = browser.target
    context.update(browser=browser, target=target, options=browser.options(), q=params.get("q", ""))
    try:
        query = browser.parse(params)
        page = browser.page(
            query, image_url=analysis.example_image_url(pk, target.task.slug, target.split.name)
        )
    except SelectionError as exc:
        context["error"] = exc.message
        return render(request, "submissions/errors.html", context, status=exc.status_code)
    context.update(
        query=query,
        page=page,
        rows=analysis.decorate_for_page(target.task, page["rows"]),
        previous_link=_page_link(request, page["page"] - 1) if page["page"] > 1 else None,
        next_link=_page_link(request, page["page"] + 1) if page["has_next"] else None,
    )
    return render(request, "submissions/errors.html", context)


@require_GET
def submission_example_image(request, pk):
    """The image input of one public-split row (`?task=&split=&id=`), for the error browser's
    thumbnails: PNG, JPEG, GIF or WebP only, sniffed from its bytes; a 404 otherwise, and for
    any split whose rows the browser does not show."""
    submission = analysis.submission_for(request.user, pk)
    params = request.GET
    try:
        target = analysis.error_target(
            request.user, submission, task=params.get("task"), split=params.get("split")
        )
    except SelectionError:
        raise Http404("No such image.") from None
    data, content_type = analysis.image_bytes(target.split, target.task, params.get("id") or "")
    response = HttpResponse(data, content_type=content_type)
    response["Cache-Control"] = "private, max-age=3600"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
def benchmark_compare(request, slug):
    """Two to four submissions side by side on one task and split (`?task=&split=&s=&s=`):
    metrics with deltas to the first, paired-bootstrap intervals and p-values, slice cells
    shown for all of them; on public splits, wins/ties/losses and the rows they disagree on."""
    benchmark = get_benchmark_for(request.user, slug)
    params = request.GET
    context = {"benchmark": benchmark}
    try:
        task, split = analysis.compare_task_split(
            benchmark, params.get("task"), params.get("split")
        )
    except SelectionError as exc:
        context["error"] = exc.message
        return render(request, "submissions/compare.html", context, status=exc.status_code)
    tasks = list(benchmark.tasks.all())
    context.update(
        task=task,
        split=split,
        tasks=tasks,
        splits=[s for s in task.splits.all() if s.is_scored],
        withheld=analysis.split_withheld(request.user, split),
    )
    status, comparison, chosen_ids = 200, None, []
    raw = [v for v in params.getlist("s") if v.strip()]
    if raw:
        try:
            chosen_ids = analysis.parse_submission_ids(raw)
            comparison = analysis.comparison_for(
                request.user, benchmark, task=task.slug, split=split.name, ids=chosen_ids
            )
            detail = comparison.per_example
            if detail is not None and detail.examples:
                context["disagreements"] = detail.page(
                    analysis.page_number(params.get("page")),
                    image_url=analysis.example_image_url(chosen_ids[0], task.slug, split.name),
                )
                for row in context["disagreements"]["rows"]:
                    row["gold_text"] = analysis.as_text(row["gold"])
                    for p in row["predictions"]:
                        p["text"] = analysis.as_text(p["prediction"])
                page = context["disagreements"]
                context["previous_link"] = (
                    _page_link(request, page["page"] - 1) if page["page"] > 1 else None
                )
                context["next_link"] = (
                    _page_link(request, page["page"] + 1) if page["has_next"] else None
                )
        except SelectionError as exc:
            context["error"] = exc.message
            status, comparison = exc.status_code, None
    context.update(
        comparison=comparison,
        chosen_ids=chosen_ids,
        choices=analysis.compare_choices(
            request.user, task, split, comparison.submissions if comparison else []
        ),
        max_compared=analysis.MAX_COMPARED,
    )
    return render(request, "submissions/compare.html", context, status=status)
