"""The breakdown's charts (submissions/charts.py): server-rendered SVG of the slice cells and of
the confusion matrix, drawn from what the page may show only (never a suppressed cell), coloured
as the table's gaps are, safe to embed inline whatever benchmark authors name their slices and
classes, cached per process and in the shared cache (where the scoring job draws a new
submission's charts), and embedded by the partials above their table fallbacks."""

import json
import re
import xml.etree.ElementTree as ET
from unittest import mock

from django.template.loader import render_to_string
from django.test import SimpleTestCase, override_settings
from django.urls import reverse
from django.utils.safestring import SafeString

from benchmarks.models import Benchmark, Split
from submissions import charts, pipeline, selectors
from submissions.models import Submission
from submissions.services import submission_create
from tests.base import (
    SECRET_LABELS,
    PlatformTestCase,
    classification_rows,
    gold_rows,
    make_split,
    make_task,
    prediction_csv,
    upload,
)

SVG = "{http://www.w3.org/2000/svg}"
WORSE, BETTER, EVEN = (colour for _, colour in charts.DIRECTIONS.values())
HOSTILE = "<script>alert(1)</script>\"onload=alert(2) x='"
HOSTILE_LABEL = "<img src=x onerror=alert(3)>&amp;"


def cell(name, value, *, key="accuracy", n=10, ci=None, slice="topic", suppressed=False):
    entry = {"value": value, "scale": charts.metric_scale(key)}
    if ci:
        entry["ci"] = ci
    return {
        "slice": slice,
        "cell": name,
        "n": n,
        "suppressed": suppressed,
        "value": None if suppressed else value,
        "gap": None,
        "metrics": None if suppressed else {key: entry},
    }


def bars(svg: str) -> dict[str, str]:
    """The bars of a slice chart: the label they are drawn for → their fill colour."""
    found = {}
    for element in ET.fromstring(svg).iter():
        if element.get("aria-roledescription") == "bar":
            label = re.search(r"label: (.*?) \(n=", element.get("aria-label")).group(1)
            found[label] = element.get("fill")
    return found


def assert_inert(test, svg: str) -> None:
    """Only SVG drawing elements, no event handler attribute, no quote that could close one
    attribute and open another: whatever the labels held stays inside attribute values and
    text nodes."""
    for tag in re.findall(r"<[^>]*>", svg):  # a tag's attribute values have no raw < or >
        test.assertNotRegex(tag, r"[\"']\s*on\w+\s*=")
    for element in ET.fromstring(svg).iter():
        test.assertTrue(element.tag.startswith(SVG), element.tag)
        test.assertNotIn(element.tag.removeprefix(SVG), ("script", "foreignObject", "a", "image"))
        test.assertFalse([a for a in element.attrib if a.lower().startswith("on")])
        test.assertFalse([v for v in element.attrib.values() if "javascript:" in v.lower()])


def texts(svg: str) -> list[str]:
    return [element.text for element in ET.fromstring(svg).iter(f"{SVG}text") if element.text]


class SliceChartTests(SimpleTestCase):
    def chart(self, cells, metric="accuracy", overall=0.7, **kwargs):
        kwargs.setdefault("lower_is_better", charts.key_lower_is_better(metric))
        kwargs.setdefault("scale", charts.metric_scale(metric))
        return charts.slice_chart(cells, metric=metric, overall=overall, **kwargs)

    def test_one_bar_per_visible_cell_labelled_with_its_slice_cell_and_rows(self):
        cells = [
            cell(f"cell-{i}", i / 20, n=10 + i, ci=[i / 20 - 0.02, i / 20 + 0.02])
            for i in range(20)
        ]
        svg = self.chart(cells)
        self.assertTrue(svg.startswith("<svg"))
        self.assertIsInstance(svg, SafeString)
        self.assertEqual(len(bars(svg)), 20)
        labels = texts(svg)
        for i in range(20):
            self.assertIn(f"topic: cell-{i} (n={10 + i})", labels)
        # CI whiskers (a rule and two caps per cell), the overall rule, the metric's name.
        self.assertEqual(svg.count('aria-roledescription="tick"'), 40)
        self.assertIn("Accuracy (higher is better)", labels)

    def test_suppressed_cells_are_never_drawn(self):
        cells = [
            cell("food", 0.8),
            cell("secret-cell", 0.123456, n=3, suppressed=True),
            # Even if a suppressed cell kept its numbers, none of them reaches the SVG.
            {**cell("other-secret", 0.654321, n=4), "suppressed": True},
        ]
        svg = self.chart(cells)
        self.assertEqual(list(bars(svg)), ["topic: food"])
        for leaked in ("secret-cell", "other-secret", "0.123456", "0.654321", "n=3", "n=4"):
            self.assertNotIn(leaked, svg)

    def test_nothing_to_draw_gives_none(self):
        self.assertIsNone(self.chart([]))
        self.assertIsNone(self.chart([cell("a", 0.5, suppressed=True)]))
        self.assertIsNone(self.chart([cell("a", None), cell("b", float("nan"))]))
        other_metric = {**cell("a", 0.5, key="f1_macro"), "value": None}
        self.assertIsNone(self.chart([other_metric]))

    def test_a_higher_error_than_overall_is_worse_and_a_lower_one_better(self):
        cells = [cell("food", 0.8, key="mae"), cell("service", 0.25, key="mae")]
        self.assertEqual(
            bars(self.chart(cells, metric="mae", overall=0.5)),
            {"topic: food": WORSE, "topic: service": BETTER},
        )
        self.assertIn("MAE (lower is better)", texts(self.chart(cells, metric="mae", overall=0.5)))

    def test_a_higher_accuracy_than_overall_is_better_and_a_lower_one_worse(self):
        cells = [cell("food", 0.9), cell("service", 0.6)]
        self.assertEqual(
            bars(self.chart(cells, overall=0.8)),
            {"topic: food": BETTER, "topic: service": WORSE},
        )

    def test_a_gap_that_rounds_to_zero_or_no_overall_is_even(self):
        cells = [cell("food", 0.8001), cell("service", 0.6)]
        self.assertEqual(bars(self.chart(cells, overall=0.8))["topic: food"], EVEN)
        self.assertEqual(set(bars(self.chart(cells, overall=None)).values()), {EVEN})

    def test_the_explicit_direction_wins_over_the_metric_key(self):
        cells = [cell("food", 0.9, key="custom"), cell("service", 0.6, key="custom")]
        lower = self.chart(cells, metric="custom", overall=0.8, lower_is_better=True, scale=None)
        self.assertEqual(bars(lower), {"topic: food": WORSE, "topic: service": BETTER})

    def test_long_names_are_shortened_but_keep_their_row_count(self):
        svg = self.chart([cell("a very long cell name that goes on and on", 0.9, n=1234)])
        self.assertIn("topic: a very long cell name th… (n=1234)", texts(svg))

    def test_scales_with_the_page(self):
        svg = self.chart([cell("food", 0.9)])
        root = ET.fromstring(svg)
        self.assertFalse(svg.startswith("<?xml"))
        self.assertRegex(root.get("viewBox"), r"^0 0 \d+(\.\d+)? \d+(\.\d+)?$")
        self.assertIn("max-width:100%", root.get("style"))
        self.assertIn("height:auto", root.get("style"))
        self.assertLessEqual(float(root.get("width")), 620)

    def test_names_from_benchmark_authors_are_escaped(self):
        svg = self.chart([cell(HOSTILE, 0.9), cell("plain", 0.5, slice=HOSTILE)])
        self.assertNotIn("<script", svg)
        self.assertIn("&lt;script&gt;", svg)
        assert_inert(self, svg)
        labels = [e.get("aria-label") or "" for e in ET.fromstring(svg).iter()]
        # Shortened to 32 characters, escaped, and read back as written.
        shortened = (
            "topic: <script>alert(1)</script… (n=10)",
            '<script>alert(1)</script>"onloa… (n=10)',
        )
        for shown in shortened:
            self.assertIn(shown, texts(svg))
            self.assertTrue(any(shown in label for label in labels))

    def test_a_reload_hits_the_cache(self):
        cells = [cell("food", 0.9), cell("service", 0.6)]
        first = self.chart(cells)
        before = charts._chart.cache_info().hits
        again = self.chart([dict(c) for c in cells])
        self.assertIs(again, first)
        self.assertEqual(charts._chart.cache_info().hits, before + 1)
        self.assertIsNot(self.chart(cells, overall=0.75), first)


class ConfusionChartTests(SimpleTestCase):
    LABELS = ["negative", "neutral", "positive", "mixed", "other"]
    MATRIX = [
        [41, 3, 1, 2, 0],
        [5, 37, 4, 0, 1],
        [0, 2, 44, 6, 3],
        [7, 1, 9, 28, 2],
        [0, 0, 1, 2, 39],
    ]

    def confusion(self, **fields):
        return {"labels": self.LABELS, "matrix": self.MATRIX, "suppressed": False, **fields}

    def test_a_cell_per_pair_with_its_count_and_the_labels(self):
        svg = charts.confusion_chart(self.confusion())
        self.assertTrue(svg.startswith("<svg"))
        self.assertEqual(svg.count('aria-roledescription="rect mark"'), 25)
        shown = texts(svg)
        for label in self.LABELS:
            self.assertIn(label, shown)
        counts = [t for t in shown if t.isdigit()]
        self.assertEqual(sorted(map(int, counts)), sorted(c for row in self.MATRIX for c in row))
        self.assertIn("Gold", shown)
        self.assertIn("Predicted", shown)

    def test_no_matrix_gives_none(self):
        self.assertIsNone(charts.confusion_chart(None))
        self.assertIsNone(charts.confusion_chart({}))
        self.assertIsNone(charts.confusion_chart(self.confusion(matrix=None, suppressed=True)))
        self.assertIsNone(charts.confusion_chart(self.confusion(suppressed=True)))
        self.assertIsNone(charts.confusion_chart(self.confusion(matrix=[[1, 2], [3, 4]])))

    def test_class_labels_are_escaped(self):
        svg = charts.confusion_chart({"labels": [HOSTILE_LABEL, "b"], "matrix": [[3, 1], [0, 5]]})
        self.assertNotIn("<img", svg)
        self.assertIn("&lt;img src=x onerror=", svg)
        assert_inert(self, svg)
        labels = [e.get("aria-label") or "" for e in ET.fromstring(svg).iter()]
        self.assertTrue(any(HOSTILE_LABEL in label for label in labels))

    def test_a_reload_hits_the_cache(self):
        first = charts.confusion_chart(self.confusion())
        self.assertIs(charts.confusion_chart(self.confusion()), first)


class SanitiserTests(SimpleTestCase):
    def test_only_drawing_elements_and_harmless_attributes_are_kept(self):
        svg = charts._sanitise(
            '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" '
            'xmlns:xlink="http://www.w3.org/1999/xlink" width="100" height="50" onload="x()">'
            '<script>alert(1)</script><g onclick="y()"><rect width="1" fill="red"/>'
            "<foreignObject><div>hi</div></foreignObject>"
            '<a href="javascript:z()"><text>t</text></a>'
            '<path style="fill:url(https://evil.example/x)" d="M0,0"/>'
            '<use xlink:href="https://evil.example/sprite.svg#a"/>'
            "<text>&lt;b&gt; &amp; &quot;</text></g></svg>"
        )
        self.assertTrue(svg.startswith("<svg"))
        gone = ("<script", "alert", "onload", "onclick", "foreignObject", "javascript", "evil")
        for text in (*gone, "<a "):
            self.assertNotIn(text, svg)
        self.assertIn('<rect width="1" fill="red" />', svg)
        self.assertIn('<text>&lt;b&gt; &amp; "</text>', svg)
        self.assertIn('viewBox="0 0 100 50"', svg)

    def test_warm_up_starts_the_engine(self):
        self.assertIsInstance(charts.warm_up(), float)

    def test_a_chart_that_cannot_be_rendered_is_left_out(self):
        with (
            mock.patch("vl_convert.vegalite_to_svg", side_effect=ValueError("boom")),
            self.assertLogs("submissions.charts", "ERROR") as logs,
        ):
            matrix = [[17, 4], [3, 11]]  # drawn nowhere else, so not cached
            self.assertIsNone(charts.confusion_chart({"labels": ["p", "q"], "matrix": matrix}))
        output = "\n".join(logs.output)
        self.assertIn("ValueError", output)
        self.assertNotIn("boom", output)  # its message could quote data: the type only


class PartialTests(SimpleTestCase):
    def result(self, **fields):
        cells = [cell("service", 0.6), cell("food", 0.9)]
        cells = [{**c, "gap": c["value"] - 0.8} for c in cells]
        cells.append(cell("secret", 0.1, n=2, suppressed=True))
        result = {
            "primary": "accuracy",
            "metrics": {"accuracy": {"value": 0.8}},
            "cells": cells,
            "confusion": {
                "labels": ["neg", "pos"],
                "matrix": [[5, 1], [2, 7]],
                "suppressed": False,
            },  # fmt: skip
        }
        result.update(charts.charts_for(result))
        result.update(fields)
        return result

    def test_the_breakdown_shows_the_chart_then_the_table(self):
        html = render_to_string("submissions/_breakdown.html", {"result": self.result()})
        self.assertIn('<figure class="chart chart-breakdown">', html)
        self.assertIn("<svg", html)
        self.assertNotIn("&lt;svg", html)  # embedded, not escaped
        self.assertLess(html.index("<svg"), html.index('<table class="table compact slices">'))
        self.assertIn("<td>food</td>", html)
        self.assertIn('<td class="num gap gap-better" title="Better than overall', html)
        self.assertIn("suppressed (too few rows on a hidden split)", html)
        self.assertIn('<div class="table-scroll">', html)
        figure = html[html.index("<figure") : html.index("</figure>")]
        self.assertNotIn("secret", figure)
        self.assertIn("Accuracy of each slice cell", figure)

    def test_the_breakdown_without_a_chart_is_the_table_alone(self):
        html = render_to_string(
            "submissions/_breakdown.html", {"result": self.result(slice_chart=None)}
        )
        self.assertNotIn("<figure", html)
        self.assertIn('<table class="table compact slices">', html)
        self.assertEqual(
            render_to_string("submissions/_breakdown.html", {"result": {}}).strip(), ""
        )

    def test_a_chart_that_is_not_marked_safe_is_escaped(self):
        result = self.result(slice_chart="<svg><script>alert(1)</script></svg>")
        html = render_to_string("submissions/_breakdown.html", {"result": result})
        self.assertNotIn("<script", html)

    def test_the_confusion_matrix_shows_the_heatmap_then_the_table(self):
        html = render_to_string(
            "submissions/_confusion.html", {"result": self.result(), "min_slice_size": 5}
        )
        self.assertIn('<figure class="chart chart-confusion">', html)
        self.assertLess(html.index("<svg"), html.index('<table class="table compact confusion">'))
        self.assertIn('<td class="num diag">7</td>', html)

    def test_a_suppressed_confusion_matrix_is_neither_drawn_nor_listed(self):
        result = self.result(confusion={"labels": ["a", "b"], "matrix": None, "suppressed": True})
        result.update(charts.charts_for(result))
        context = {"result": result, "min_slice_size": 5}
        html = render_to_string("submissions/_confusion.html", context)
        self.assertNotIn("<svg", html)
        self.assertIn("Confusion matrix withheld", html)
        self.assertIn("at least 5 rows", html)

    def test_withheld_results_get_no_charts(self):
        self.assertEqual(
            charts.charts_for({**self.result(), "withheld": True}),
            {"slice_chart": None, "confusion_chart": None},
        )


class SpecTests(SimpleTestCase):
    def test_specs_are_valid_vega_lite_with_their_data_inline(self):
        import altair as alt
        import jsonschema

        schema = alt.load_schema()
        cells = [cell("food", 0.4, ci=[0.3, 0.5]), cell("service", 0.9)]
        slices = charts.slice_spec(cells, metric="accuracy", overall=0.5, scale=1.0)
        confusion = charts.confusion_spec({"labels": ["a", "b"], "matrix": [[1, 2], [3, 4]]})
        for spec in (slices, confusion):
            jsonschema.validate(spec, schema)
            self.assertNotIn("url", json.dumps(spec))  # nothing to fetch
        labels = [row["label"] for row in slices["datasets"]["cells"]]
        self.assertEqual(labels, ["topic: food (n=10)", "topic: service (n=10)"])
        self.assertIsNone(charts.slice_spec([], metric="accuracy", overall=0.5))
        self.assertIsNone(charts.confusion_spec({"labels": ["a"], "matrix": None}))


def fresh_process() -> None:
    """A web process that has drawn nothing yet: the per-process caches of the charts, and of
    the hidden splits' publications, empty (the shared cache is left as it is)."""
    for cached in (
        charts._chart,
        charts.render_svg,
        charts._slice_template,
        charts._confusion_template,
    ):
        cached.cache_clear()
    with selectors._PUBLICATIONS_LOCK:
        selectors._PUBLICATIONS.clear()


@override_settings(MIN_SLICE_SIZE=20)
class SharedCacheTests(PlatformTestCase):
    """The real scoring job draws a new submission's charts into the shared cache, from what
    its page shows, so that a web process's first page draws nothing; a shared cache that fails
    costs a page its speed, never the page."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.charted = Benchmark.objects.create(slug="charted", title="Charted")
        task = make_task(
            cls.charted,
            "sst",
            label_names=SECRET_LABELS,
            metadata_columns=["topic"],
            slices=[{"name": "topic", "column": "topic"}],
        )
        make_split(task, "dev", Split.Role.PUBLIC, classification_rows("dev", 40, SECRET_LABELS))
        hidden = classification_rows("test", 90, SECRET_LABELS)
        for row in hidden[:4]:
            row["topic"] = "rare"  # a cell under MIN_SLICE_SIZE: suppressed, and food with it
        make_split(task, "test", Split.Role.HIDDEN, hidden)

    def setUp(self):
        fresh_process()

    def score(self) -> Submission:
        rows = gold_rows(self.charted)
        wrong = {row["id"] for i, row in enumerate(rows) if i % 7 == 0}
        submission = submission_create(
            benchmark=self.charted,
            participant=self.alice,
            uploaded_file=upload(prediction_csv(rows, wrong=wrong)),
        )
        pipeline.submission_score(submission_id=submission.pk)
        submission.refresh_from_db()
        self.assertEqual(submission.status, Submission.Status.SCORED, submission.error)
        return submission

    def page(self, submission: Submission):
        self.client.force_login(self.alice)
        response = self.client.get(reverse("submission_detail", args=[submission.pk]))
        self.assertEqual(response.status_code, 200)
        return response

    def drawn(self, response) -> list[str]:
        """The page's charts, as it embeds them."""
        html = response.content.decode()
        found = [
            str(result[kind])
            for result in response.context["results"]
            for kind in ("slice_chart", "confusion_chart")
        ]
        for svg in found:
            self.assertIn(svg, html)
        return found

    def test_after_the_scoring_job_a_fresh_process_draws_nothing(self):
        submission = self.score()
        fresh_process()
        failing = AssertionError("the page drew a chart")
        with mock.patch("vl_convert.vegalite_to_svg", side_effect=failing) as render:
            response = self.page(submission)
        render.assert_not_called()
        self.assertEqual(charts._slice_template.cache_info().misses, 0)  # no altair either
        self.assertEqual(charts._confusion_template.cache_info().misses, 0)
        results = response.context["results"]
        self.assertEqual([r["split"] for r in results], ["dev", "test"])
        self.assertEqual(len(self.drawn(response)), 4)
        self.assertTrue(all(svg.startswith("<svg") for svg in self.drawn(response)))

    def test_a_failing_shared_cache_still_scores_and_draws_the_page(self):
        secret = "cache at 10.0.0.7 refused"
        broken = mock.Mock()
        broken.get.side_effect = broken.set.side_effect = ConnectionError(secret)
        with (
            mock.patch.object(charts, "cache", broken),
            self.assertLogs("submissions.charts", "WARNING") as logs,
        ):
            submission = self.score()
            fresh_process()
            response = self.page(submission)
        self.assertTrue(broken.get.called and broken.set.called)
        self.assertEqual(len(self.drawn(response)), 4)
        output = "\n".join(logs.output)
        self.assertIn("ConnectionError", output)
        self.assertNotIn(secret, output)

    def test_the_charts_drawn_for_a_hidden_split_hold_only_its_published_cells(self):
        with mock.patch.object(charts, "_shared_set", wraps=charts._shared_set) as shared:
            submission = self.score()
        warmed = [str(call.args[1]) for call in shared.call_args_list]
        fresh_process()
        response = self.page(submission)
        self.assertCountEqual(warmed, self.drawn(response))  # what the page shows, no more
        hidden = next(r for r in response.context["results"] if r["role"] == Split.Role.HIDDEN)
        names = {True: set(), False: set()}
        for c in hidden["cells"]:
            names[c["suppressed"]].add(f"{c['slice']}: {c['cell']}")
        self.assertIn("topic: rare", names[True])
        self.assertTrue(names[False])
        self.assertEqual(set(bars(hidden["slice_chart"])), names[False])
        for name in names[True]:
            self.assertNotIn(f"{name} (n=", hidden["slice_chart"])

    def test_a_chart_that_fails_in_the_scoring_job_leaves_the_submission_scored(self):
        secret = "test-001 is zz-label-pos"
        with (
            mock.patch.object(charts, "charts_for", side_effect=RuntimeError(secret)),
            self.assertLogs("submissions.pipeline", "WARNING") as logs,
        ):
            self.score()
        output = "\n".join(logs.output)
        self.assertIn("RuntimeError", output)
        self.assertNotIn(secret, output)
