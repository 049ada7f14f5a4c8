"""What the error browser's page shows besides the plain values of a row.

`decorate_for_page` adds to each row a QA context with the gold answer spans and the predicted
span marked (`highlight_context`: the raw text is cut at the spans' offsets and every piece
escaped on its own, so no markup from the data survives), token-classification tags side by
side with the tokens, the plain inputs, image links, and gold and prediction as text
(`as_text`, also used by the comparison page).
"""

from __future__ import annotations

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from benchmarks.models import Task
from scoring.tasktypes import QUESTION_ANSWERING, TOKEN_CLASSIFICATION


def _spans(text: str, needle: str) -> list[tuple[int, int]]:
    """Where `needle` occurs in `text`: every exact occurrence, else case-insensitive ones."""
    if not needle or not needle.strip():
        return []
    found = []
    for haystack, target in ((text, needle), (text.casefold(), needle.casefold())):
        if len(haystack) != len(text):  # casefolding changed lengths: offsets would drift
            break
        start = haystack.find(target)
        while start != -1:
            found.append((start, start + len(target)))
            start = haystack.find(target, start + 1)
        if found:
            break
    return found


def highlight_context(context: str, gold: list[str] | None, prediction: str | None) -> SafeString:
    """The context escaped, with gold answer spans in `<mark class="gold">`, the predicted span
    in `<mark class="pred">` and overlaps in both. The raw text is cut at the spans' offsets and
    each piece escaped on its own, so no markup from the data survives."""
    context = context or ""
    kinds = [set() for _ in range(len(context))]
    for answer in gold or []:
        for start, end in _spans(context, answer):
            for i in range(start, end):
                kinds[i].add("gold")
    for start, end in _spans(context, prediction or "")[:1]:
        for i in range(start, end):
            kinds[i].add("pred")
    pieces, i = [], 0
    while i < len(context):
        j = i
        while j < len(context) and kinds[j] == kinds[i]:
            j += 1
        text = escape(context[i:j])
        if kinds[i]:
            classes = " ".join(f"mark-{k}" for k in sorted(kinds[i]))
            title = {
                "mark-gold": "gold answer",
                "mark-pred": "prediction",
                "mark-gold mark-pred": "gold answer and prediction",
            }[classes]
            pieces.append(f'<mark class="{classes}" title="{title}">{text}</mark>')
        else:
            pieces.append(text)
        i = j
    return mark_safe("".join(pieces))  # every piece of data is escaped above


def qa_columns(task: Task) -> tuple[str | None, str | None]:
    """(question, context) input columns of a QA task."""
    inputs = list(task.input_columns)
    context = "context" if "context" in inputs else (inputs[-1] if inputs else None)
    question = next((c for c in inputs if c != context), None)
    return question, context


def decorate_for_page(task: Task, rows: list[dict]) -> list[dict]:
    """Adds what the page template shows besides the plain values: a QA context with spans
    marked, token rows side by side, gold/prediction as text."""
    for row in rows:
        if task.type == QUESTION_ANSWERING:
            question, context = qa_columns(task)
            gold = row["gold"] if isinstance(row["gold"], list) else [row["gold"]]
            text = row["inputs"].get(context) if context else None
            if isinstance(text, str):
                row["context_html"] = highlight_context(text, gold, row["prediction"])
            row["question"] = row["inputs"].get(question) if question else None
        elif task.type == TOKEN_CLASSIFICATION:
            tokens = row["inputs"].get(task.input_columns[0]) if task.input_columns else None
            gold = row["gold"] or []
            predicted = row["prediction"] or []
            if isinstance(tokens, list):
                row["tokens"] = [
                    {
                        "token": token,
                        "gold": gold[i] if i < len(gold) else "",
                        "pred": predicted[i] if i < len(predicted) else "",
                        "same": (gold[i] if i < len(gold) else None)
                        == (predicted[i] if i < len(predicted) else None),
                    }
                    for i, token in enumerate(tokens)
                ]
        row["plain_inputs"] = [
            (name, value)
            for name, value in row["inputs"].items()
            if not isinstance(value, dict)
            and not (task.type == QUESTION_ANSWERING and name in qa_columns(task))
            and not (task.type == TOKEN_CLASSIFICATION and "tokens" in row)
        ]
        row["images"] = [v["image"] for v in row["inputs"].values() if isinstance(v, dict)]
        row["gold_text"] = as_text(row["gold"])
        row["prediction_text"] = as_text(row["prediction"])
    return rows


def as_text(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, list):
        return " | ".join(str(v) for v in value) if value else "(none)"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
