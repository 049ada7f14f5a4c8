"""Simulated participants for the demo benchmarks (`manage.py setup_demo`): a few users whose
prediction files are derived from the gold data with a distinct, deliberate failure pattern
each, so that the demo's leaderboards, result pages and slice breakdowns have something to show
(one system bad on negation, one that loses long inputs, one biased toward a class, ...).

The predictions are computed here, deterministically (a `random.Random` seeded per participant
and benchmark), rather than stored as files: they follow the demo data whenever
`demo/generate.py` changes it, and each pattern reads as code. They are submitted through
`submission_create`, the path of any upload (checked, stored, queued and scored by the worker);
one submission per participant and benchmark stays well inside the demo benchmarks' quotas.
They are simulations, said so in every description: they never compete on a real benchmark."""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile

from benchmarks.models import Benchmark, Task
from submissions.models import Submission
from submissions.services import submission_create
from submissions.uploads import split_table

# Every column a predictor may read, per task, is one of the task's own; the image bytes are
# not needed (the simulations work from the label and the metadata).
Row = dict
Predictor = Callable[[Task, list[Row], random.Random], list]

NEGATION = re.compile(r"\b(not|never|nobody|no)\b")


@dataclass(frozen=True)
class Entry:
    name: str
    description: str
    predict: Predictor


@dataclass(frozen=True)
class Participant:
    username: str
    entries: dict[str, Entry]  # benchmark slug -> entry


def _label(task: Task, row: Row) -> str:
    value = row[task.label_column]
    return task.label_names[value] if isinstance(value, int) else value


def _other(task: Task, label: str, rng: random.Random) -> str:
    return rng.choice([name for name in task.label_names if name != label])


def _classify(accuracy: Callable[[Row], float], bias: str | None = None) -> Predictor:
    """Right with probability `accuracy(row)`; wrong answers go to `bias` when given."""

    def predict(task, rows, rng):
        out = []
        for row in rows:
            gold = _label(task, row)
            if rng.random() < accuracy(row):
                out.append(gold)
            else:
                out.append(bias if bias and bias != gold else _other(task, gold, rng))
        return out

    return predict


def _regress(error: Callable[[float, Row, random.Random], float]) -> Predictor:
    def predict(task, rows, rng):
        return [
            round(min(5.0, max(1.0, error(float(row[task.label_column]), row, rng))), 2)
            for row in rows
        ]

    return predict


def _answer(rule: Callable[[Row, random.Random], str]) -> Predictor:
    def predict(task, rows, rng):
        return [rule(row, rng) for row in rows]

    return predict


def _distractor(row: Row, rng: random.Random) -> str:
    """A confident wrong answer: a short span of the context that is no gold answer."""
    words = row["context"].split()
    gold = set(row["answers"])
    for _ in range(10):
        start = rng.randrange(max(1, len(words) - 3))
        span = " ".join(words[start : start + rng.randint(1, 3)]).strip(".,")
        if span and span not in gold:
            return span
    return words[0]


def _qa_rule(
    right: Callable[[Row], float], abstain: Callable[[Row], float]
) -> Callable[[Row, random.Random], str]:
    """Answerable rows: the first gold answer with probability `right(row)`, else a wrong
    span (or nothing, half the time). Unanswerable rows: "" with probability `abstain(row)`."""

    def rule(row, rng):
        if not row["answers"]:
            return "" if rng.random() < abstain(row) else _distractor(row, rng)
        if rng.random() < right(row):
            return row["answers"][0]
        return "" if rng.random() < 0.5 else _distractor(row, rng)

    return rule


def _tag(transform: Callable[[list[str], Row, random.Random], list[str]]) -> Predictor:
    def predict(task, rows, rng):
        return [transform(list(row[task.label_column]), row, rng) for row in rows]

    return predict


def _retype(source: str, target: str, rate: float):
    """Entities of type `source` tagged as `target` with probability `rate` each."""

    def transform(tags, row, rng):
        for i, tag in enumerate(tags):
            if tag == f"B-{source}":
                flip = rng.random() < rate
                j = i
                while flip and j < len(tags) and tags[j] in (f"B-{source}", f"I-{source}"):
                    if j > i and tags[j] == f"B-{source}":
                        break
                    tags[j] = tags[j][:2] + target
                    j += 1
        return tags

    return transform


def _summarise(rule: Callable[[Row, random.Random], str]) -> Predictor:
    def predict(task, rows, rng):
        return [rule(row, rng) for row in rows]

    return predict


def _lead(row: Row, words: int) -> str:
    return " ".join(row["source"].split()[:words])


def _reference(row: Row) -> str:
    reference = row["reference"]
    return reference if isinstance(reference, str) else reference[0]


def _paraphrase(row: Row, rng: random.Random) -> str:
    """The first reference with a word or two dropped: close, rarely exact."""
    words = _reference(row).split()
    for _ in range(rng.randint(0, 2)):
        if len(words) > 4:
            words.pop(rng.randrange(1, len(words) - 1))
    return " ".join(words)


def _ner_truncate(limit: int):
    def transform(tags, row, rng):
        return [tag if i < limit else "O" for i, tag in enumerate(tags)]

    return transform


def _ner_single_tokens(tags, row, rng):
    """Multi-token entities lose everything after their first token."""
    return ["O" if tag.startswith("I-") else tag for tag in tags]


def _described(summary: str, pattern: str, slug: str) -> str:
    return (
        f"{summary}\n\n"
        f"**Known weakness:** {pattern}\n\n"
        "*A simulated participant of the demo: its predictions are derived from the gold data "
        "by `submissions/demo_participants.py` to show a failure pattern in the breakdowns.* "
        f"[Paper](https://example.org/papers/{slug}) · [Code](https://example.org/code/{slug})"
    )


ADA = Participant(
    "ada",
    {
        "sentiment-mini": Entry(
            "Ada-Encoder (base)",
            _described(
                "A fine-tuned sentence encoder with a linear head.",
                "it reads *not bad* as bad: reviews with a negation are nearly a coin flip.",
                "ada-encoder",
            ),
            _classify(lambda r: 0.55 if NEGATION.search(r["text"]) else 0.96),
        ),
        "regression-mini": Entry(
            "Ada-Encoder regressor",
            _described(
                "The same encoder with a regression head, trained on squared error.",
                "negated sentences (*nobody helped*, *never crashed*) throw its estimate off.",
                "ada-encoder",
            ),
            _regress(
                lambda y, r, rng: y + rng.gauss(0, 1.3 if NEGATION.search(r["text"]) else 0.3)
            ),
        ),
        "qa-mini": Entry(
            "Ada-Reader",
            _described(
                "An extractive reader trained on answerable questions only.",
                "it always finds *something*: most unanswerable questions get a confident span.",
                "ada-reader",
            ),
            _answer(_qa_rule(lambda r: 0.92, lambda r: 0.2)),
        ),
        "ner-mini": Entry(
            "Ada-Tagger",
            _described(
                "A CRF over encoder features.",
                "organisations named after places (*Caldwell City*, *Union Rail*) are tagged as "
                "locations.",
                "ada-tagger",
            ),
            _tag(_retype("ORG", "LOC", 0.6)),
        ),
        "summaries-mini": Entry(
            "Ada-Abstractive",
            _described(
                "A small sequence-to-sequence model.",
                "paraphrases well, but now and then copies the first sentence instead.",
                "ada-abstractive",
            ),
            _summarise(lambda r, rng: _paraphrase(r, rng) if rng.random() < 0.8 else _lead(r, 25)),
        ),
        "images-mini": Entry(
            "Ada-ConvNet",
            _described(
                "A four-layer convolutional network trained on light images.",
                "dark, nearly grey images: accuracy falls to little better than chance.",
                "ada-convnet",
            ),
            _classify(lambda r: 0.97 if r["brightness"] == "light" else 0.5),
        ),
    },
)

GRACE = Participant(
    "grace",
    {
        "sentiment-mini": Entry(
            "Grace-Window-32",
            _described(
                "A compact model with a 32-token window, fast on a CPU.",
                "long reviews are cut off, and the verdict at their end is lost.",
                "grace-window",
            ),
            _classify(lambda r: 0.55 if len(r["text"].split()) >= 30 else 0.93),
        ),
        "regression-mini": Entry(
            "Grace-Window-32 regressor",
            _described(
                "The 32-token window model with a regression head.",
                "on long reviews it sees only the preamble and falls back to the average.",
                "grace-window",
            ),
            _regress(
                lambda y, r, rng: (
                    3.0 + rng.gauss(0, 0.5)
                    if len(r["text"].split()) >= 25
                    else y + rng.gauss(0, 0.35)
                )
            ),
        ),
        "qa-mini": Entry(
            "Grace-Window-32 reader",
            _described(
                "A reader that sees the first 40 words of the paragraph.",
                "answers that come late in a long paragraph are out of its reach: it abstains.",
                "grace-window",
            ),
            _answer(
                lambda r, rng: (
                    ""
                    if not r["answers"]
                    or len(r["context"][: r["context"].find(r["answers"][0])].split()) > 40
                    else r["answers"][0]
                )
            ),
        ),
        "ner-mini": Entry(
            "Grace-Window-10 tagger",
            _described(
                "A tagger with a 10-token window.",
                "entities after the tenth token are never found.",
                "grace-window",
            ),
            _tag(_ner_truncate(10)),
        ),
        "summaries-mini": Entry(
            "Grace-Lead",
            _described(
                "Picks the source's lead and trims it.",
                "long items: the lead is only part of the story.",
                "grace-lead",
            ),
            _summarise(
                lambda r, rng: (
                    _lead(r, 14) if len(r["source"].split()) >= 60 else _paraphrase(r, rng)
                )
            ),
        ),
    },
)

LINUS = Participant(
    "linus",
    {
        "sentiment-mini": Entry(
            "Linus-Optimist",
            _described(
                "Bag of words with a class prior learned from an unbalanced crawl.",
                "biased toward *positive*: many negative reviews are called positive.",
                "linus-optimist",
            ),
            _classify(lambda r: 0.98 if r["label"] in ("positive", 1) else 0.6, bias="positive"),
        ),
        "regression-mini": Entry(
            "Linus-Shrinkage",
            _described(
                "Ridge regression with heavy regularisation.",
                "predictions are pulled toward three stars: one- and five-star reviews are far "
                "off.",
                "linus-shrinkage",
            ),
            _regress(lambda y, r, rng: 3.0 + 0.35 * (y - 3.0) + rng.gauss(0, 0.25)),
        ),
        "qa-mini": Entry(
            "Linus-Keyword reader",
            _described(
                "Matches question keywords against sentences and returns the nearest entity.",
                "*why* and *how* questions need more than a keyword: it mostly misses them.",
                "linus-keyword",
            ),
            _answer(
                _qa_rule(
                    lambda r: 0.3 if r["question"].startswith(("Why", "How")) else 0.9,
                    lambda r: 0.7,
                )
            ),
        ),
        "ner-mini": Entry(
            "Linus-Gazetteer",
            _described(
                "A gazetteer of person names with capitalisation rules for the rest.",
                "whatever is capitalised becomes a person: organisations and places too.",
                "linus-gazetteer",
            ),
            _tag(
                lambda tags, r, rng: _retype("LOC", "PER", 0.7)(
                    _retype("ORG", "PER", 0.5)(tags, r, rng), r, rng
                )
            ),
        ),
        "images-mini": Entry(
            "Linus-Histogram",
            _described(
                "A colour histogram and a nearest-centroid rule.",
                "dark images fall into the red bin.",
                "linus-histogram",
            ),
            _classify(lambda r: 0.95 if r["brightness"] == "light" else 0.35, bias="red"),
        ),
    },
)

MARGARET = Participant(
    "margaret",
    {
        "sentiment-mini": Entry(
            "Margaret-Lexicon",
            _described(
                "A hand-built sentiment lexicon of food words.",
                "prices and ambience use words the lexicon lacks.",
                "margaret-lexicon",
            ),
            _classify(lambda r: 0.62 if r["topic"] in ("price", "ambience") else 0.92),
        ),
        "regression-mini": Entry(
            "Margaret-Lexicon stars",
            _described(
                "Lexicon scores mapped to stars, tuned on hotel and restaurant reviews.",
                "app reviews use another vocabulary: its errors there are large.",
                "margaret-lexicon",
            ),
            _regress(lambda y, r, rng: y + rng.gauss(0, 1.2 if r["category"] == "app" else 0.4)),
        ),
        "qa-mini": Entry(
            "Margaret-Rules",
            _described(
                "Question-type rules: a date for *when*, a name for *who*, ...",
                "*when* and *which* questions often get the wrong date or town.",
                "margaret-rules",
            ),
            _answer(
                _qa_rule(
                    lambda r: 0.35 if r["qtype"] in ("when", "which") else 0.88, lambda r: 0.85
                )
            ),
        ),
        "ner-mini": Entry(
            "Margaret-Rules tagger",
            _described(
                "Capitalisation rules and lists of names.",
                "multi-word entities keep only their first word.",
                "margaret-rules",
            ),
            _tag(_ner_single_tokens),
        ),
        "summaries-mini": Entry(
            "Margaret-Templates",
            _described(
                "Fills a summary template per kind of news.",
                "council votes and school closures have no template: it copies the lead.",
                "margaret-templates",
            ),
            _summarise(
                lambda r, rng: (
                    _lead(r, 20) if r["category"] in ("council", "school") else _paraphrase(r, rng)
                )
            ),
        ),
        "images-mini": Entry(
            "Margaret-Hue",
            _described(
                "Classifies the mean hue of the image.",
                "greens and blues are close in hue and often swapped.",
                "margaret-hue",
            ),
            _classify(lambda r: 0.6 if r["label"] in ("green", "blue") else 0.95),
        ),
    },
)

PARTICIPANTS = [ADA, GRACE, LINUS, MARGARET]


def predictions_for(task: Task, entry: Entry, *, seed: str) -> bytes:
    """The entry's prediction file (JSONL: `id`, `prediction`) over the task's scored splits."""
    columns = [task.id_column, task.label_column, *task.metadata_columns]
    if task.type != "image-classification":
        columns += task.input_columns
    rows = []
    for split in task.scored_splits:
        rows += split_table(split, tuple(dict.fromkeys(columns))).to_pylist()
    predictions = entry.predict(task, rows, random.Random(seed))
    lines = (
        json.dumps({"id": row[task.id_column], "prediction": prediction})
        for row, prediction in zip(rows, predictions, strict=True)
    )
    return "".join(line + "\n" for line in lines).encode()


def demo_participants_create(*, benchmarks: list[Benchmark] | None = None) -> list[Submission]:
    """Create the simulated participants (unusable passwords) and submit each one's entry on
    every demo benchmark that is imported, unless they already have. Idempotent; the new
    submissions are queued for the worker once committed."""
    benchmarks = benchmarks if benchmarks is not None else list(Benchmark.objects.all())
    by_slug = {b.slug: b for b in benchmarks}
    created = []
    User = get_user_model()
    for participant in PARTICIPANTS:
        user, new = User.objects.get_or_create(username=participant.username)
        if new:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        for slug, entry in participant.entries.items():
            benchmark = by_slug.get(slug)
            if benchmark is None:
                continue
            if Submission.objects.filter(
                benchmark=benchmark, participant=user, name=entry.name
            ).exists():
                continue
            task = benchmark.tasks.get()
            data = predictions_for(task, entry, seed=f"{participant.username}/{slug}")
            upload = ContentFile(data, name=f"{participant.username}-{slug}.jsonl")
            created.append(
                submission_create(
                    benchmark=benchmark,
                    participant=user,
                    uploaded_file=upload,
                    task=task,
                    name=entry.name,
                    description=entry.description,
                )
            )
    return created
