"""The four simulated participants of the demo and their entry on each demo benchmark.

Ada, Grace, Linus and Margaret each submit one entry per demo benchmark they take part in, each
with a distinct failure pattern built from the task family's predictors (negation, input length,
class bias, topic or category, entity types, ...); `PARTICIPANTS` lists them in that order.
"""

from __future__ import annotations

import re

from submissions.demo_participants.base import Entry, Participant, _described
from submissions.demo_participants.classification import _classify
from submissions.demo_participants.qa import _answer, _qa_rule
from submissions.demo_participants.regression import _regress
from submissions.demo_participants.summaries import _lead, _paraphrase, _summarise
from submissions.demo_participants.tagging import _ner_single_tokens, _ner_truncate, _retype, _tag

NEGATION = re.compile(r"\b(not|never|nobody|no)\b")


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
