"""How `bench` prints what the API answers: plain text tables, metric values with their 95%
intervals."""

from __future__ import annotations

from typing import TextIO

from benchclient.api import FINAL_STATES


def format_number(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def format_metric(entry) -> str:
    """`{"value": 0.7, "ci": [0.64, 0.76]}` as `0.7000 [0.6400, 0.7600]`."""
    if not isinstance(entry, dict):
        return format_number(entry)
    text = format_number(entry.get("value"))
    ci = entry.get("ci")
    if entry.get("value") is not None and isinstance(ci, list) and len(ci) == 2:
        text += f" [{format_number(ci[0])}, {format_number(ci[1])}]"
    return text


def metric_keys(metric_dicts, first: list[str] | None = None) -> list[str]:
    """Metric names in order of first appearance, `first` ones in front."""
    keys = list(first or [])
    for metrics in metric_dicts:
        for key in metrics or {}:
            if key not in keys:
                keys.append(key)
    return keys


def table(headers: list[str], rows: list[list[str]]) -> str:
    """Left-aligned columns; every row is padded (or cut) to the headers' length."""
    n = len(headers)
    rows = [([str(c) for c in row] + [""] * n)[:n] for row in rows]
    widths = [max(len(line[i]) for line in [headers, *rows]) for i in range(n)]
    lines = [headers, ["-" * w for w in widths], *rows]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def print_benchmarks(benchmarks: list[dict], out: TextIO) -> None:
    if not benchmarks:
        print("No benchmarks you can see.", file=out)
        return
    rows = [
        [
            b["slug"],
            b.get("title") or "",
            ", ".join(b.get("tasks") or []),
            "open" if b.get("is_open") else "closed",
        ]
        for b in benchmarks
    ]
    print(table(["SLUG", "TITLE", "TASKS", "SUBMISSIONS"], rows), file=out)


def print_submission(detail: dict, out: TextIO) -> None:
    progress = detail.get("progress") or 0.0
    print(f"Submission #{detail['id']} on {detail['benchmark']}", file=out)
    fields = [
        ("Name", detail.get("name") or "-"),
        (
            "Status",
            detail["status"] + ("" if detail["status"] in FINAL_STATES else f" ({progress:.0%})"),
        ),
        ("Created", detail.get("created_at") or "-"),
        ("Finished", detail.get("finished_at") or "-"),
    ]
    model = detail.get("model")
    if model:
        where = f"{model['repo_id']}@{model['revision']}" if model.get("repo_id") else "archive"
        fields.append(("Model", f"{where} ({model['sha'][:19]})"))
    if detail.get("error"):
        fields.append(("Error", detail["error"]))
    for label, value in fields:
        print(f"{label + ':':<10}{value}", file=out)
    evaluations = detail.get("evaluations") or []
    if not evaluations:
        return
    keys = metric_keys(e["metrics"] for e in evaluations)
    rows = []
    for e in evaluations:
        if e.get("withheld") or e.get("metrics") is None:
            cells = ["(withheld until the benchmark closes)"]
        else:
            cells = [format_metric(e["metrics"].get(k)) for k in keys]
        rows.append([e["task"], e["split"], e.get("role", ""), *cells])
    print(file=out)
    print(table(["TASK", "SPLIT", "ROLE", *(keys or ["SCORES"])], rows), file=out)


def print_leaderboard(board: dict, out: TextIO) -> None:
    print(
        f"{board['benchmark']}: task {board['task']}, split {board['split']}, "
        f"sorted by {board['sort']}",
        file=out,
    )
    rows = board.get("rows") or []
    if not rows:
        print("No scored submissions yet.", file=out)
        return
    keys = metric_keys((r["metrics"] for r in rows), first=board.get("columns") or [board["sort"]])
    lines = []
    for r in rows:
        name = r.get("name") or ""
        if r.get("is_baseline"):
            name += " (baseline)"
        rank = "-" if r.get("rank") is None else str(r["rank"])
        metrics = r.get("metrics") or {}
        lines.append(
            [rank, r["participant"], name, f"#{r['submission']}"]
            + [format_metric(metrics.get(k)) for k in keys]
        )
    print(table(["RANK", "PARTICIPANT", "NAME", "ID", *keys], lines), file=out)
    if board.get("next"):
        print(f"\nMore rows: add --page {board.get('page', 1) + 1}.", file=out)


def format_gap(value) -> str:
    return "-" if value is None else f"{value:+.4f}"


def print_breakdown(submission_id: int, result: dict, out: TextIO) -> None:
    """The overall scores of one evaluation, its slice cells (worst first, as the API orders
    them) and its confusion matrix where the task has one."""
    role = f" ({result['role']})" if result.get("role") else ""
    print(
        f"Submission #{submission_id}: task {result['task']}, split {result['split']}{role}",
        file=out,
    )
    overall = result.get("overall") or {}
    if not overall:
        print("No scores to break down (withheld, or not scored yet).", file=out)
    for key, entry in overall.items():
        print(f"  {key + ':':<20}{format_metric(entry)}", file=out)
    slices = result.get("slices") or []
    if slices:
        primary = result.get("primary")
        keys = metric_keys((c.get("metrics") for c in slices), first=[primary] if primary else [])
        rows = []
        for cell in slices:
            if cell.get("suppressed"):
                cells = ["(suppressed: too few rows to show on a hidden split)"]
            else:
                metrics = cell.get("metrics") or {}
                cells = [format_metric(metrics.get(k)) for k in keys]
                cells.append(format_gap(cell.get("gap")))
            rows.append([cell["slice"], cell["cell"], format_number(cell.get("n")), *cells])
        gap = f"GAP ({primary})" if primary else "GAP"
        print(file=out)
        print(table(["SLICE", "CELL", "N", *keys, gap], rows), file=out)
    confusion = result.get("confusion")
    if confusion and confusion.get("labels"):
        labels = [str(label) for label in confusion["labels"]]
        rows = [
            [label, *(str(n) for n in counts)]
            for label, counts in zip(labels, confusion["matrix"], strict=False)
        ]
        print("\nConfusion matrix (rows: gold label, columns: predicted label):", file=out)
        print(table(["GOLD", *labels], rows), file=out)
