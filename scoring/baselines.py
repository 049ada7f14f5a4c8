"""Automatic baselines: the reference points every leaderboard starts with. Pure functions from a
task spec, the labelled data a baseline may learn from (train split, else public splits — never
hidden labels) and the inputs of the scored splits, to a prediction table (id, prediction)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from scoring import tasktypes

Baseline = Callable[[dict, pa.Table, pa.Table], pa.Table]


def _predictions(ids: pa.Array, values: list | pa.Array) -> pa.Table:
    return pa.table({"id": ids.cast(pa.string()), "prediction": values})


def majority_class(spec: dict, learn: pa.Table, inputs: pa.Table) -> pa.Table:
    labels = learn.column(spec["columns"]["label"]).to_pylist()
    # Ties go to the label listed first, so the baseline is deterministic.
    order = {name: i for i, name in enumerate(spec["columns"]["labels"])}
    counts = Counter(labels)
    best = min(counts, key=lambda name: (-counts[name], order.get(name, len(order))))
    ids = inputs.column(spec["columns"]["id"]).combine_chunks()
    return _predictions(ids, pa.array([best] * len(ids), pa.string()))


def _text_of(spec: dict, table: pa.Table) -> list[str]:
    """Input columns joined into one text per row, for bag-of-words models."""
    columns = [table.column(c).cast(pa.string()).fill_null("") for c in spec["columns"]["inputs"]]
    joined = columns[0]
    for column in columns[1:]:
        joined = pc.binary_join_element_wise(joined, column, " ")
    return joined.to_pylist()


def tfidf_logistic_regression(spec: dict, learn: pa.Table, inputs: pa.Table) -> pa.Table:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    labels = learn.column(spec["columns"]["label"]).to_pylist()
    if len(set(labels)) < 2:
        return majority_class(spec, learn, inputs)
    model = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True),
        LogisticRegression(max_iter=1000, random_state=0),
    )
    model.fit(_text_of(spec, learn), labels)
    predicted = model.predict(_text_of(spec, inputs))
    ids = inputs.column(spec["columns"]["id"]).combine_chunks()
    return _predictions(ids, pa.array(list(predicted), pa.string()))


def training_mean(spec: dict, learn: pa.Table, inputs: pa.Table) -> pa.Table:
    values = learn.column(spec["columns"]["label"]).to_numpy(zero_copy_only=False).astype(float)
    mean = float(np.nanmean(values))
    ids = inputs.column(spec["columns"]["id"]).combine_chunks()
    return _predictions(ids, pa.array(np.full(len(ids), mean)))


def always_no_answer(spec: dict, learn: pa.Table | None, inputs: pa.Table) -> pa.Table:
    ids = inputs.column(spec["columns"]["id"]).combine_chunks()
    return _predictions(ids, pa.array([""] * len(ids), pa.string()))


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def lead_sentences(spec: dict, learn: pa.Table | None, inputs: pa.Table, count: int = 3):
    """The first `count` sentences of the source (all of it when shorter): lead-3 for news
    summarisation, and the copy-the-source baseline for short inputs."""
    source = spec["columns"]["inputs"][0]
    texts = inputs.column(source).cast(pa.string()).fill_null("").to_pylist()
    leads = [" ".join(_SENTENCE_END.split(text.strip())[:count]) for text in texts]
    ids = inputs.column(spec["columns"]["id"]).combine_chunks()
    return _predictions(ids, pa.array(leads, pa.string()))


def all_outside(spec: dict, learn: pa.Table | None, inputs: pa.Table) -> pa.Table:
    """Token classification: tag every token "O" (no entities)."""
    tokens = inputs.column(spec["columns"]["inputs"][0]).to_pylist()
    ids = inputs.column(spec["columns"]["id"]).combine_chunks()
    tags = pa.array([["O"] * len(t or []) for t in tokens], pa.list_(pa.string()))
    return _predictions(ids, tags)


def baselines_for(spec: dict, *, has_train: bool, learn_rows: int) -> dict[str, Baseline]:
    """The baselines that apply to a task, by name. `learn_rows` is how many labelled rows a
    baseline may learn from (0: only input-free baselines apply)."""
    kind = spec["type"]
    found: dict[str, Baseline] = {}
    if kind in tasktypes.CLASSIFICATION_TYPES and learn_rows:
        found["Majority class"] = majority_class
        if has_train and kind == tasktypes.TEXT_CLASSIFICATION:
            found["TF-IDF + logistic regression"] = tfidf_logistic_regression
    elif kind == tasktypes.REGRESSION and learn_rows:
        found["Training mean" if has_train else "Public mean"] = training_mean
    elif kind == tasktypes.QUESTION_ANSWERING:
        found["Always no answer"] = always_no_answer
    elif kind == tasktypes.TEXT_GENERATION:
        found["Lead-3 / copy the source"] = lead_sentences
    elif kind == tasktypes.TOKEN_CLASSIFICATION:
        found["All O"] = all_outside
    return found
