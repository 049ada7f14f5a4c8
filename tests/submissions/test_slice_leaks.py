"""Hidden labels are not recovered by differencing published slice cells (docs/formats.md,
"Breakdowns and leakage rules"). A real submission is scored on a hidden split whose slices
overlap on purpose (bins that differ by one row, nested bins, a pattern that nearly matches a
topic, two columns that nearly agree); every number the API breakdown and the status page
publish is then collected, each cell's rows are recomputed as a participant could, and no
combination may isolate fewer than MIN_SLICE_SIZE rows."""

from __future__ import annotations

import itertools
import re
from html import unescape
from unittest import mock

import numpy as np
import pyarrow.parquet as pq
from django.test import override_settings

from benchmarks.models import Benchmark, Split
from scoring.autoslices import automatic_specs
from scoring.slices import slice_cells
from submissions import pipeline, selectors
from submissions.models import Evaluation
from submissions.services import submission_create
from tests.base import SECRET_LABELS, PlatformTestCase, make_split, make_task, upload

NEG, POS = SECRET_LABELS
MIN = 20
ROWS = 200
TARGET = 115  # te-0115: the row the reported attack recovers


def score(i: int) -> float:
    if i < 3:
        return 9.7  # between the edges of the nested bins
    if i < 50:
        return 5.0
    if i < 90:
        return 15.0
    return 25.0 if i == TARGET else 40.0


def topic(i: int) -> str:
    return ["food", "service", "price"][i % 3]


def row(i: int, label: str) -> dict:
    channel = {"food": "web", "service": "phone", "price": "mail"}[topic(i)]
    if i in (7, 10):
        channel = "mail"  # two service rows arrive by mail
    negated = topic(i) == "price" or i == 4  # "not" in every price row and in te-0004
    return {
        "id": f"te-{i:04d}",
        "text": f"item {i} {'not ' if negated else ''}great",
        "label": label,
        "topic": topic(i),
        "channel": channel,
        "score": score(i),
    }


SLICES = [
    {"name": "lo", "column": "score", "measure": "value", "bins": [0, 10, 25]},
    {"name": "hi", "column": "score", "measure": "value", "bins": [0, 10, 26]},
    {"name": "nested", "column": "score", "measure": "value", "bins": [0, 9.5]},
    {"name": "topic", "column": "topic"},
    {"name": "channel", "column": "channel"},
    {"name": "negation", "column": "text", "pattern": r"\bnot\b"},
]


@override_settings(MIN_SLICE_SIZE=MIN)
class SliceDifferencingLeakTests(PlatformTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        rng = np.random.default_rng(115)
        labels = [POS if x else NEG for x in rng.random(ROWS) < 0.55]
        labels[50:90] = [POS] * 22 + [NEG] * 18  # the report's cell: 22 of 40 positive
        labels[TARGET] = POS
        cls.leaky = Benchmark.objects.create(slug="leaky", title="Leaky")
        cls.leaky.maintainers.set([cls.author])
        cls.leaky_task = make_task(
            cls.leaky,
            "sst",
            label_names=SECRET_LABELS,
            metadata_columns=["topic", "channel", "score"],
            slices=SLICES,
        )
        cls.hidden = make_split(
            cls.leaky_task, "test", Split.Role.HIDDEN, [row(i, labels[i]) for i in range(ROWS)]
        )
        cls.labels = labels

    def setUp(self):
        self.client.force_login(self.alice)
        self.submission = self.submit(POS)

    def submit(self, label: str):
        """A scored submission predicting `label` for every row."""
        lines = ["id,prediction"] + [f"te-{i:04d},{label}" for i in range(ROWS)]
        submission = submission_create(
            benchmark=self.leaky,
            participant=self.alice,
            uploaded_file=upload(("\n".join(lines) + "\n").encode()),
        )
        pipeline.submission_score(submission_id=submission.pk)
        submission.refresh_from_db()
        self.assertEqual(submission.status, "scored", submission.error)
        return submission

    def memberships(self, specs=SLICES) -> dict[tuple[str, str], np.ndarray]:
        """Each cell's rows, recomputed from the split and the slice specs (the author's and the
        automatic ones) as the platform does."""
        with self.hidden.data.open("rb") as f:
            gold = pq.read_table(f)
        cells = {}
        for spec in [*specs, *automatic_specs(self.leaky_task.spec(), gold)]:
            codes, names = slice_cells(spec, gold)
            for index, name in enumerate(names):
                cells[(spec["name"], name)] = codes == index
        return cells

    def api_cells(self, submission=None) -> tuple[dict, list[dict]]:
        submission = submission or self.submission
        response = self.client.get(f"/api/v1/submissions/{submission.pk}/breakdown/?split=test")
        self.assertEqual(response.status_code, 200)
        body = response.json()
        return body["overall"], body["slices"]

    def page_cells(self) -> dict[tuple[str, str], int | None]:
        """(slice, cell) → published row count (None when suppressed), read off the page."""
        content = self.client.get(f"/submissions/{self.submission.pk}/").content.decode()
        found = {}
        tables = re.findall(r'<table class="table compact slices">(.*?)</table>', content, re.S)
        for table in tables:
            header = re.search(r"<thead><tr><th>(.*?)</th>", table).group(1)
            slice_name = unescape(re.sub(r"\s*<span.*", "", header))  # less an "auto" badge
            for cell, rest in re.findall(r"<tr>\s*<td>(.*?)</td>(.*?)</tr>", table, re.S):
                n = re.search(r'<td class="num">(\d+)</td>', rest)
                found[(slice_name, unescape(cell))] = int(n.group(1)) if n else None
        return found

    def published(self, *submissions, specs=SLICES) -> list[tuple[str, np.ndarray]]:
        """(name, rows) of the whole split and of every cell shown for `submissions` (by
        default the first one), its published row count and metrics checked against them."""
        members = self.memberships(specs)
        shown = [("(all)", np.ones(ROWS, dtype=bool))]
        for submission in submissions or [self.submission]:
            _, cells = self.api_cells(submission)
            for cell in cells:
                if cell["suppressed"]:
                    self.assertEqual((cell["n"], cell["metrics"]), (None, None))
                    continue
                rows = members[(cell["slice"], cell["cell"])]
                self.assertEqual(cell["n"], int(rows.sum()))
                shown.append((f"{cell['slice']}={cell['cell']}", rows))
        return shown

    def assert_no_small_group_is_derivable(self, published) -> None:
        """No two published cells differ by 1 to MIN - 1 rows, and no combination of all of
        them isolates fewer than MIN rows (dropping those rows would lower the rank)."""
        for (a, rows_a), (b, rows_b) in itertools.combinations(published, 2):
            differ = int((rows_a ^ rows_b).sum())
            self.assertFalse(0 < differ < MIN, f"{a} and {b} differ by {differ} rows")
        sums = np.stack([rows for _, rows in published], axis=1).astype(float)
        full = np.linalg.matrix_rank(sums)
        groups, inverse, counts = np.unique(sums, axis=0, return_inverse=True, return_counts=True)
        inverse = inverse.reshape(-1)
        light = [g for g in range(len(groups)) if counts[g] < MIN]
        for size in range(1, min(MIN, len(light) + 1)):
            for chosen in itertools.combinations(light, size):
                if counts[list(chosen)].sum() >= MIN:
                    continue
                kept = sums[~np.isin(inverse, chosen)]
                self.assertEqual(np.linalg.matrix_rank(kept), full, f"rows {chosen} isolable")

    def test_the_page_publishes_exactly_what_the_api_does(self):
        _, cells = self.api_cells()
        api = {(c["slice"], c["cell"]): c["n"] for c in cells}
        self.assertEqual(self.page_cells(), api)
        self.assertTrue(any(n is None for n in api.values()))
        self.assertTrue(any(n is not None for n in api.values()))

    def test_no_small_group_is_derivable_from_what_is_published(self):
        self.assert_no_small_group_is_derivable(self.published())

    def test_overlapping_slices_give_way_to_the_ones_listed_before_them(self):
        _, cells = self.api_cells()
        shown = {(c["slice"], c["cell"]) for c in cells if not c["suppressed"]}
        self.assertTrue({("lo", "[0,10)"), ("lo", "[10,25)"), ("lo", "[25,inf)")} <= shown)
        self.assertTrue({("topic", "food"), ("topic", "price"), ("topic", "service")} <= shown)
        self.assertNotIn(("hi", "[10,26)"), shown)  # lo minus it: te-0115
        self.assertNotIn(("nested", "[0,9.5)"), shown)  # lo minus it: three rows
        self.assertNotIn(("negation", "match"), shown)  # minus price: te-0004
        self.assertNotIn(("channel", "phone"), shown)  # service minus it: two rows

    def test_the_reported_attack_no_longer_gives_the_label(self):
        # What scoring stored: the two bins cells of the report, 41 and 40 rows apart by te-0115.
        stored = Evaluation.objects.get(submission=self.submission).slices
        by_name = {(c["slice"], c["cell"]): c for c in stored}
        wide, narrow = by_name[("hi", "[10,26)")], by_name[("lo", "[10,25)")]
        self.assertEqual((wide["n"], narrow["n"]), (41, 40))
        wide_accuracy = wide["metrics"]["accuracy"]["value"]
        narrow_accuracy = narrow["metrics"]["accuracy"]["value"]
        self.assertEqual((round(wide_accuracy, 5), narrow_accuracy), (0.56098, 0.55))
        # Had both been shown: 41 x 0.56098 - 40 x 0.55 = 1, so te-0115 is positive.
        self.assertEqual(round(41 * wide_accuracy - 40 * narrow_accuracy), 1)
        self.assertEqual(self.labels[TARGET], POS)
        # Published: not both cells, and no combination of what is shown gives te-0115 alone.
        _, cells = self.api_cells()
        shown = {(c["slice"], c["cell"]) for c in cells if not c["suppressed"]}
        self.assertFalse({("hi", "[10,26)"), ("lo", "[10,25)")} <= shown)
        sums = np.stack([rows for _, rows in self.published()], axis=1).astype(float)
        target = np.zeros(ROWS)
        target[TARGET] = 1.0
        solution, *_ = np.linalg.lstsq(sums, target, rcond=None)
        self.assertGreater(np.abs(sums @ solution - target).max(), 0.5)

    def test_a_slice_added_later_is_weighed_with_the_others(self):
        # A pattern that matches the price rows plus te-0007: a later submission is scored with
        # it, the first one without; everything both publish is checked together.
        specs = [*SLICES, {"name": "late", "column": "text", "pattern": r"\bnot\b|item 7 "}]
        self.leaky_task.slices = specs
        self.leaky_task.save(update_fields=["slices"])
        later = self.submit(NEG)
        published = self.published(self.submission, later, specs=specs)
        self.assert_no_small_group_is_derivable(published)
        _, cells = self.api_cells(later)
        late = [c for c in cells if c["slice"] == "late"]
        self.assertEqual(len(late), 2)
        self.assertTrue(all(c["suppressed"] for c in late))

    def test_cells_of_a_slice_changed_after_scoring_are_not_shown(self):
        # The author moves an edge of `lo`: the cells scored under the old spec no longer match
        # the rows the spec gives now, so none of them is shown.
        self.leaky_task.slices = [
            {**s, "bins": [0, 10, 27]} if s["name"] == "lo" else s for s in SLICES
        ]
        self.leaky_task.save(update_fields=["slices"])
        _, cells = self.api_cells()
        self.assertTrue(all(c["suppressed"] for c in cells if c["slice"] == "lo"))

    def test_a_split_that_cannot_be_read_shows_no_cell(self):
        # Slices the publication cache has not seen, over a split whose file is unreadable.
        self.leaky_task.slices = [{"name": "channel", "column": "channel"}]
        self.leaky_task.save(update_fields=["slices"])
        with (
            mock.patch.object(selectors, "split_table", side_effect=FileNotFoundError()),
            self.assertLogs("submissions.selectors", "WARNING"),
        ):
            _, cells = self.api_cells()
        self.assertTrue(cells)
        self.assertTrue(all(c["suppressed"] for c in cells))
