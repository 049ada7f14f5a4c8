"""Automatic slices (scoring/autoslices.py): cells, sizes and per-cell metrics on constructed data
with answers worked out by hand, determinism, and what hidden splits may publish of them."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from scoring.autoslices import (
    automatic_columns,
    automatic_partitions,
    automatic_specs,
    length_edges,
    nice_number,
    quantiles,
    value_edges,
)
from scoring.evaluation import score_split
from scoring.slices import hidden_publication, question_overlap, slice_cells, suppress_hidden_cells
from tests.scoring_pure.task_specs import task


def preds(gold, values, type_=None):
    return pa.table({"id": gold["id"], "prediction": pa.array(values, type_)})


def cells(result, name):
    return {c["cell"]: c for c in result["slices"] if c["slice"] == name}


def values(cell):
    return {k: v["value"] for k, v in cell["metrics"].items()}


# --- classification -------------------------------------------------------------------------

LABELS = ["neg", "neu", "pos"]
CLS_GOLD = pa.table(
    {
        "id": [f"r{i}" for i in range(8)],
        "text": ["a", "a b", "a b c", "a b c d", "a b c d e", "x " * 9, "y " * 20, "z " * 40],
        "label": ["pos", "neg", "pos", "pos", "neg", "neu", "pos", "neg"],
    }
)
CLS_PRED = ["pos", "pos", "neg", "pos", "neg", "neu", "pos", "neu"]
CLS_TASK = task(
    "text-classification",
    "label",
    ["text"],
    LABELS,
    ["accuracy", {"name": "recall", "average": "macro"}, {"name": "precision", "average": "macro"}],
)


def test_gold_label_cells_are_per_class_recall_in_label_order():
    result = score_split(CLS_TASK, CLS_GOLD, preds(CLS_GOLD, CLS_PRED), resamples=10)
    gold_label = cells(result, "gold label")
    assert list(gold_label) == LABELS
    # neg rows 1, 4, 7 predicted pos, neg, neu: recall 1/3; neu row 5: 1/1; pos rows 0, 2, 3, 6
    # predicted pos, neg, pos, pos: 3/4.
    assert {c: gold_label[c]["n"] for c in LABELS} == {"neg": 3, "neu": 1, "pos": 4}
    assert values(gold_label["neg"])["accuracy"] == pytest.approx(1 / 3)
    assert values(gold_label["neu"])["accuracy"] == 1.0
    assert values(gold_label["pos"])["accuracy"] == pytest.approx(3 / 4)
    assert all(c["auto"] and not c.get("by_prediction") for c in gold_label.values())


def test_predicted_label_cells_are_per_class_precision():
    result = score_split(CLS_TASK, CLS_GOLD, preds(CLS_GOLD, CLS_PRED), resamples=10)
    predicted = cells(result, "predicted label")
    # predicted neg: rows 2 (pos), 4 (neg); neu: 5 (neu), 7 (neg); pos: 0, 1, 3, 6 (3 right).
    assert {c: predicted[c]["n"] for c in predicted} == {"neg": 2, "neu": 2, "pos": 4}
    assert values(predicted["neg"])["accuracy"] == 0.5
    assert values(predicted["neu"])["accuracy"] == 0.5
    assert values(predicted["pos"])["accuracy"] == 0.75
    assert all(c["by_prediction"] and c["auto"] for c in predicted.values())
    assert "predicted label" not in {s["name"] for s in automatic_specs(CLS_TASK, CLS_GOLD)}


def test_index_labels_are_mapped_to_names_and_unknown_values_get_cells():
    gold = pa.table({"id": ["a", "b", "c", "d"], "label": [2, 0, 2, 7]})
    spec = {"name": "gold label", "column": "label", "kind": "labels", "labels": LABELS}
    codes, names = slice_cells(spec, gold)
    assert names == [*LABELS, "7"]
    assert [names[c] for c in codes] == ["pos", "neg", "pos", "7"]


def test_input_length_bins_are_nice_quantiles():
    lengths = np.asarray(CLS_GOLD["text"].to_pylist(), dtype=object)
    counts = np.array([len(t.split()) for t in lengths], dtype=float)  # 1 2 3 4 5 9 20 40
    # Quantiles 0.2 .. 0.8: 2.4, 3.8, 5.8, 15.6 → nice 2, 5, 5, 20 → [2, 5, 20].
    assert length_edges(counts) == [2, 5, 20]
    spec = next(s for s in automatic_specs(CLS_TASK, CLS_GOLD) if s["name"] == "input length")
    assert spec == {
        "name": "input length",
        "column": "text",
        "measure": "words",
        "bins": [0, 2, 5, 20],
        "auto": True,
    }
    codes, names = slice_cells(spec, CLS_GOLD)
    assert [names[c] for c in codes] == ["[0,2)", "[2,5)", "[2,5)", "[2,5)"] + [
        "[5,20)",
        "[5,20)",
        "[20,inf)",
        "[20,inf)",
    ]


def test_nice_numbers_and_rounded_value_edges():
    assert [nice_number(x) for x in (1, 1.4, 1.5, 3.1, 3.2, 7, 7.1, 140, 160)] == [
        1,
        1,
        2,
        2,
        5,
        5,
        10,
        100,
        200,
    ]
    assert value_edges(np.array([0.0, 1.0, 2.0, 3.0, 4.0])) == [1.0, 2.0, 3.0]
    assert value_edges(np.array([0.01234, 0.05678, 0.1111, 0.2222, 0.3333])) == [
        0.057,
        0.11,
        0.22,
    ]
    assert value_edges(np.ones(10)) == []  # one value: no slice at all


def test_data_derived_bins_are_deterministic():
    rng = np.random.default_rng(5)
    n = 3000
    gold = pa.table(
        {
            "id": [str(i) for i in range(n)],
            "text": [" ".join(["w"] * int(k)) for k in rng.integers(1, 300, n)],
            "label": rng.choice(LABELS, n),
        }
    )
    first = automatic_specs(CLS_TASK, gold)
    again = automatic_specs(CLS_TASK, pa.table({c: gold[c] for c in gold.column_names}))
    assert first == again
    shuffled = gold.take(rng.permutation(n))
    assert automatic_specs(CLS_TASK, shuffled) == first  # quantiles ignore row order
    spec = next(s for s in first if s["name"] == "input length")
    assert 2 <= len(spec["bins"]) <= 4


def test_author_slice_names_win():
    authored = {**CLS_TASK, "slices": [{"name": "gold label", "column": "text", "pattern": "a"}]}
    specs = automatic_specs(authored, CLS_GOLD)
    assert [s["name"] for s in specs] == ["input length"]
    result = score_split(authored, CLS_GOLD, preds(CLS_GOLD, CLS_PRED), resamples=10)
    assert set(cells(result, "gold label")) == {"match", "no match"}
    authored = {**CLS_TASK, "slices": [{"name": "predicted label", "column": "text"}]}
    result = score_split(authored, CLS_GOLD, preds(CLS_GOLD, CLS_PRED), resamples=10)
    assert not any(c.get("by_prediction") for c in result["slices"])


def test_label_dependent_marks_and_columns():
    specs = {s["name"]: s for s in automatic_specs(CLS_TASK, CLS_GOLD)}
    assert specs["gold label"]["label_dependent"] and "label_dependent" not in specs["input length"]
    assert automatic_columns(CLS_TASK) == ["text", "label"]
    image = task("image-classification", "label", ["image"], LABELS)
    assert automatic_columns(image) == ["label"]
    qa = task("question-answering", "answers", ["question", "context"])
    assert automatic_columns(qa) == ["question", "context", "answers"]


def test_automatic_slices_that_cannot_be_computed_are_skipped():
    broken = task("text-classification", "label", ["missing", "text"], LABELS)
    result = score_split(broken, CLS_GOLD, preds(CLS_GOLD, CLS_PRED), resamples=10)
    assert {c["slice"] for c in result["slices"]} == {
        "input length",
        "gold label",
        "predicted label",
    }
    image = task("image-classification", "label", ["image"], LABELS)
    gold = CLS_GOLD.append_column("image", pa.array([b"x"] * 8))
    result = score_split(image, gold, preds(gold, CLS_PRED), resamples=10)
    assert {c["slice"] for c in result["slices"]} == {"gold label", "predicted label"}
    gold = CLS_GOLD.drop_columns(["text"])
    result = score_split(CLS_TASK, gold, preds(gold, CLS_PRED), resamples=10)
    assert {c["slice"] for c in result["slices"]} == {"gold label", "predicted label"}


def test_automatic_false_scores_author_slices_only():
    result = score_split(
        CLS_TASK, CLS_GOLD, preds(CLS_GOLD, CLS_PRED), resamples=10, automatic=False
    )
    assert result["slices"] == []


def test_every_partition_equals_slice_cells():
    for task_spec, gold in [(CLS_TASK, CLS_GOLD), (QA_TASK, QA_GOLD), (TAG_TASK, TAG_GOLD)]:
        for spec, codes, names in automatic_partitions(task_spec, gold):
            again, again_names = slice_cells(spec, gold)
            assert again_names == names and np.array_equal(again, codes), spec["name"]


# --- token classification -------------------------------------------------------------------

TAG_GOLD = pa.table(
    {
        "id": ["a", "b", "c", "d"],
        "tokens": [["J", "S", "in", "P"], ["x", "y"], ["A", "B", "C"], ["q"]],
        "tags": [
            ["B-PER", "I-PER", "O", "B-LOC"],
            ["B-ORG", "O"],
            ["B-PER", "B-LOC", "I-LOC"],
            ["B-PER"],
        ],
    }
)
TAG_PRED = [["B-PER", "I-PER", "O", "B-PER"], ["B-ORG", "B-MISC"], ["B-PER", "B-LOC", "O"], ["O"]]
TAG_TASK = task("token-classification", "tags", ["tokens"])


def test_entity_type_cells_match_seqeval_per_type():
    seqeval_metrics = pytest.importorskip("seqeval.metrics")
    result = score_split(TAG_TASK, TAG_GOLD, preds(TAG_GOLD, TAG_PRED), resamples=10)
    types = cells(result, "entity type")
    report = seqeval_metrics.classification_report(
        TAG_GOLD["tags"].to_pylist(), TAG_PRED, output_dict=True, zero_division=0
    )
    assert list(types) == ["LOC", "ORG", "PER"]  # MISC is predicted only: no cell
    for name, cell in types.items():
        assert cell["n"] == report[name]["support"]
        assert cell["unit"] == "entities" and cell["auto"]
        got = values(cell)
        assert got["overall_precision"] == pytest.approx(report[name]["precision"])
        assert got["overall_recall"] == pytest.approx(report[name]["recall"])
        assert got["overall_f1"] == pytest.approx(report[name]["f1-score"])
        assert got["overall_accuracy"] is None
    # By hand: PER gold 3 (a, c, d), predicted 3 (a[0:2], a[3], c[0]), right 2.
    assert values(types["PER"])["overall_recall"] == pytest.approx(2 / 3)
    assert values(types["PER"])["overall_precision"] == pytest.approx(2 / 3)
    assert types["LOC"]["n"] == 2 and values(types["LOC"])["overall_recall"] == 0.0


def test_entity_spec_counts_gold_entities():
    spec = next(s for s in automatic_specs(TAG_TASK, TAG_GOLD) if s["name"] == "entity type")
    assert spec["unit"] == "entities" and spec["label_dependent"]
    codes, names = slice_cells(spec, TAG_GOLD)
    assert names == ["LOC", "ORG", "PER"]
    assert np.bincount(codes).tolist() == [2, 1, 3]


def test_token_input_length_counts_tokens():
    spec = next(s for s in automatic_specs(TAG_TASK, TAG_GOLD) if s["name"] == "input length")
    assert spec["column"] == "tokens" and spec["measure"] == "words"


# --- question answering ---------------------------------------------------------------------

QA_GOLD = pa.table(
    {
        "id": ["q0", "q1", "q2", "q3", "q4", "q5"],
        "question": [
            "What is the capital?",
            "In WHICH year, and when?",
            "Whose dog barked?",
            "Name the river.",
            "why not",
            "?!",
        ],
        "context": [
            "The capital is Paris.",
            "In 1990 it rained.",
            "A cat barked at the dog.",
            "Rivers flow.",
            "because",
            "nothing",
        ],
        "answers": pa.array(
            [["Paris"], ["1990", "in 1990"], ["the cat"], [], ["one two three four five"], []],
            pa.list_(pa.string()),
        ),
    }
)
QA_TASK = task("question-answering", "answers", ["question", "context"], metrics=["squad"])


def test_question_words():
    result = score_split(QA_TASK, QA_GOLD, preds(QA_GOLD, ["Paris"] * 6), resamples=10)
    words = cells(result, "question word")
    # q0 what, q1 which (first of which/when), q2 whose → who, q3 other, q4 why, q5 other.
    assert {c: words[c]["n"] for c in words} == {
        "what": 1,
        "who": 1,
        "why": 1,
        "which": 1,
        "other": 2,
    }
    assert list(words) == ["what", "who", "why", "which", "other"]  # the fixed order


def test_question_context_overlap():
    question = pa.array(QA_GOLD["question"].to_pylist())
    context = pa.array(QA_GOLD["context"].to_pylist())
    overlap = question_overlap(question, context)
    # q0 {what, is, the, capital}: is, the, capital → 3/4. q1 {in, which, year, and, when}: in
    # → 1/5. q2 {whose, dog, barked}: dog, barked → 2/3. q3 {name, the, river}: none ("rivers"
    # is another word) → 0. q4 {why, not}: 0. q5 no words → NaN.
    assert overlap[:5] == pytest.approx([0.75, 0.2, 2 / 3, 0.0, 0.0])
    assert np.isnan(overlap[5])
    result = score_split(QA_TASK, QA_GOLD, preds(QA_GOLD, ["Paris"] * 6), resamples=10)
    bins = cells(result, "question-context overlap")
    assert {c: bins[c]["n"] for c in bins} == {
        "[0,0.25)": 3,
        "[0.5,0.75)": 1,
        "[0.75,inf)": 1,
        "no words": 1,
    }


def test_overlap_handles_unicode_and_shared_contexts():
    question = pa.array(["Où est Zoë ?", "où", "ZOË!"])
    context = pa.array(["Zoë est là.", "Zoë est là.", "Zoë est là."])
    assert question_overlap(question, context).tolist() == pytest.approx([2 / 3, 0.0, 1.0])


def test_answerable_and_answer_length():
    # Predictions: right for q0 (Paris), q3 and q5 (unanswerable, empty), wrong elsewhere.
    answers = ["Paris", "2001", "a dog", "", "five", ""]
    result = score_split(QA_TASK, QA_GOLD, preds(QA_GOLD, answers), resamples=10)
    answerable = cells(result, "answerable")
    assert {c: answerable[c]["n"] for c in answerable} == {"answerable": 4, "unanswerable": 2}
    assert values(answerable["unanswerable"])["exact_match"] == 100.0
    assert values(answerable["answerable"])["exact_match"] == 25.0
    length = cells(result, "answer length")
    # First answers: Paris (1 word), 1990 (1), the cat (2), five words (5); two unanswerable.
    assert {c: length[c]["n"] for c in length} == {
        "[1,2)": 2,
        "[2,4)": 1,
        "[4,8)": 1,
        "unanswerable": 2,
    }
    assert values(length["[1,2)"])["exact_match"] == 50.0
    # "five" against "one two three four five": F1 = 2·(1·0.2)/(1.2) = 1/3.
    assert values(length["[4,8)"])["f1"] == pytest.approx(100 / 3)


def test_qa_input_length_measures_the_context():
    spec = next(s for s in automatic_specs(QA_TASK, QA_GOLD) if s["name"] == "input length")
    assert spec["column"] == "context"


def test_squad_v1_has_no_answerable_slice():
    gold = QA_GOLD.filter(pa.array([True, True, True, False, True, False]))
    names = {s["name"] for s in automatic_specs(QA_TASK, gold)}
    assert "answerable" not in names and "answer length" in names


# --- generation and regression --------------------------------------------------------------


def test_reference_length_takes_the_first_reference():
    refs = [["a b c d e f"], ["a", "b c d e"], ["one two"], ["w " * 12], [], ["x y z"]]
    gold = pa.table(
        {
            "id": [str(i) for i in range(6)],
            "source": ["s"] * 6,
            "refs": pa.array(refs, pa.list_(pa.string())),
        }
    )
    gen = task("text-generation", "refs", ["source"], metrics=[{"name": "chrf"}])
    spec = next(s for s in automatic_specs(gen, gold) if s["name"] == "reference length")
    # First references' words: 6, 1, 2, 12, (none), 3 → quantiles 1.8, 2.6, 4.2, 7.2 → nice
    # 2, 2, 5, 10 → edges [2, 5, 10], from 0.
    assert spec["bins"] == [0, 2, 5, 10] and spec["label_dependent"]
    codes, names = slice_cells(spec, gold)
    assert [names[c] for c in codes] == [
        "[5,10)",
        "[0,2)",
        "[2,5)",
        "[10,inf)",
        "(missing)",
        "[2,5)",
    ]


def test_target_value_bins():
    gold = pa.table(
        {
            "id": [str(i) for i in range(8)],
            "text": ["t"] * 8,
            "y": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
        }
    )
    reg = task("regression", "y", ["text"], metrics=["mae"])
    spec = next(s for s in automatic_specs(reg, gold) if s["name"] == "target value")
    assert spec["bins"] == [1.8, 3.5, 5.2]  # quartiles 1.75, 3.5, 5.25 to 2 digits
    pred = [0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 9.0]
    result = score_split(reg, gold, preds(gold, pred), resamples=10)
    target = cells(result, "target value")
    assert {c: target[c]["n"] for c in target} == {
        "(-inf,1.8)": 2,
        "[1.8,3.5)": 2,
        "[3.5,5.2)": 2,
        "[5.2,inf)": 2,
    }
    assert values(target["(-inf,1.8)"])["mae"] == 0.25
    assert values(target["[5.2,inf)"])["mae"] == 1.0
    assert "input length" not in {c["slice"] for c in result["slices"]}  # all texts 1 word


# --- hidden splits ----------------------------------------------------------------------------


def test_hidden_publication_of_automatic_specs():
    n = 100
    labels = ["neg"] * 60 + ["neu"] * 10 + ["pos"] * 30
    gold = pa.table(
        {
            "id": [str(i) for i in range(n)],
            "text": ["a b c"] * 50 + ["a " * 30] * 50,
            "label": labels,
        }
    )
    specs = automatic_specs(CLS_TASK, gold)
    publication = hidden_publication(specs, gold, 20)
    assert publication.sizes["gold label"] == {"neg": 60, "neu": 10, "pos": 30}
    # Input length comes first: 3 words (rows 0-49, all neg) and 30 words (rows 50-99: 10 neg,
    # 10 neu, 30 pos), both shown. neu (10) is too small. Suppressing pos as well would leave
    # neg shown, and its 10 long rows would follow (the long cell minus pos minus the rest);
    # so neg goes with neu (70 rows suppressed) and pos stays.
    assert publication.sizes["input length"] == {"[0,20)": 50, "[20,inf)": 50}
    shown = {cell for name, cell in publication.shown if name == "gold label"}
    assert shown == {"pos"}
    prediction = ["neg"] * n
    result = score_split(CLS_TASK, gold, preds(gold, prediction), resamples=10)
    visible = suppress_hidden_cells(result["slices"], publication)
    by_prediction = [c for c in visible if c["slice"] == "predicted label"]
    assert by_prediction and all(c["suppressed"] and c["n"] is None for c in by_prediction)
    neu = next(c for c in visible if c["slice"] == "gold label" and c["cell"] == "neu")
    assert neu["suppressed"]
    lengths = [c for c in visible if c["slice"] == "input length"]
    assert lengths and not any(c["suppressed"] for c in lengths)


def test_predicted_label_cells_are_never_published_even_by_name():
    gold = pa.table({"id": [str(i) for i in range(60)], "topic": ["a", "b"] * 30})
    specs = [{"name": "predicted label", "column": "topic"}]
    publication = hidden_publication(specs, gold, 5)
    cell = {"slice": "predicted label", "cell": "a", "n": 30, "metrics": {}, "by_prediction": True}
    assert suppress_hidden_cells([cell], publication)[0]["suppressed"]


def entity_gold(per, loc, org):
    tags = [["B-PER"]] * per + [["B-LOC"]] * loc + [["B-ORG"]] * org
    return pa.table({"id": [str(i) for i in range(len(tags))], "tags": tags})


ENTITY_SPEC = {
    "name": "entity type",
    "column": "tags",
    "kind": "entities",
    "unit": "entities",
    "auto": True,
}


@pytest.mark.parametrize(
    ("counts", "shown"),
    [
        ((30, 25, 40), {"PER", "LOC", "ORG"}),  # all large
        ((30, 5, 40), {"ORG"}),  # LOC small: PER (next smallest) goes too, 35 suppressed
        ((30, 5, 16), {"PER"}),  # LOC + ORG = 21 entities suppressed together
        ((30, 5, 0), set()),  # LOC alone is 5: PER must go too, nothing left
    ],
)
def test_entity_types_follow_the_rule_over_entities(counts, shown):
    gold = entity_gold(*counts)
    publication = hidden_publication([ENTITY_SPEC], gold, 20)
    assert {cell for _, cell in publication.shown} == shown
    sizes = {t: n for t, n in zip(["PER", "LOC", "ORG"], counts, strict=True) if n}
    assert publication.sizes["entity type"] == sizes


def test_entity_cells_are_checked_apart_from_row_slices():
    gold = entity_gold(30, 25, 40).append_column("text", pa.array(["x"] * 95))
    # A row slice with a tiny cell does not make entity types go, nor the other way round.
    row_spec = {"name": "x", "column": "text", "pattern": "y"}
    publication = hidden_publication([row_spec, ENTITY_SPEC], gold, 20)
    assert {c for s, c in publication.shown if s == "entity type"} == {"PER", "LOC", "ORG"}
    result = score_split(
        task("token-classification", "tags", ["text"]),
        gold,
        preds(gold, gold["tags"].to_pylist()),
        resamples=10,
    )
    visible = suppress_hidden_cells(result["slices"], publication)
    entity = [c for c in visible if c["slice"] == "entity type"]
    assert len(entity) == 3 and not any(c["suppressed"] for c in entity)


def test_quantiles_of_whole_numbers_are_numpys_by_their_histogram():
    rng = np.random.default_rng(11)
    qs = [0.2, 0.4, 0.6, 0.8]
    for _ in range(100):
        n = int(rng.integers(1, 2000))
        counts = rng.integers(0, int(rng.integers(1, 400)), n).astype(np.float64)
        assert quantiles(counts, qs) == pytest.approx(np.quantile(counts, qs), abs=1e-9)
    # Anything else is numpy's own: fractions, negatives.
    for values in ([0.5, 1.5, 2.0], [-3.0, 1.0, 4.0, 9.0]):
        assert quantiles(np.array(values), qs) == pytest.approx(np.quantile(values, qs))


def test_question_overlap_is_the_same_whichever_way_keys_are_matched(monkeypatch):
    from scoring.slices import cells as slice_cells_module

    rng = np.random.default_rng(5)
    words = ["who", "what", "river", "Paris", "the", "a", "city", "1990", "won't", "it's"]
    questions = pa.array([" ".join(rng.choice(words, rng.integers(0, 6))) for _ in range(300)])
    pool = [" ".join(rng.choice(words, rng.integers(3, 12))) + "." for _ in range(20)]
    contexts = pa.array([pool[i] for i in rng.integers(0, 20, 300)])
    tables = question_overlap(questions, contexts)
    monkeypatch.setattr(slice_cells_module, "MEMBER_TABLE_MAX", 0)  # sort and isin instead
    sorted_ = question_overlap(questions, contexts)
    np.testing.assert_array_equal(tables, sorted_)
    assert np.isnan(tables).sum() == sum(1 for q in questions.to_pylist() if not q.strip())
