"""`bench benchmarks` and `bench download`, against a fake opener."""

from __future__ import annotations

import contextlib
import io
import os
import tempfile

from benchclient.cli import main

from tests.client.fakes import ClientTestCase

BENCHMARKS = [
    {
        "slug": "sentiment",
        "title": "Sentiment",
        "url": "/api/v1/benchmarks/sentiment/",
        "tasks": ["sst"],
        "visibility": "public",
        "is_open": True,
    },
    {
        "slug": "qa",
        "title": "Questions",
        "url": "/api/v1/benchmarks/qa/",
        "tasks": ["squad", "squad-v2"],
        "visibility": "public",
        "is_open": False,
    },
]


def split(name: str, role: str, downloadable: bool = True) -> dict:
    return {"name": name, "role": role, "rows": 10, "inputs_downloadable": downloadable}


DETAIL = {
    "slug": "sentiment",
    "title": "Sentiment",
    "tasks": [
        {
            "slug": "sst",
            "splits": [split("train", "train"), split("dev", "public"), split("test", "hidden")],
        },
        {"slug": "topics", "splits": [split("train", "train"), split("test", "hidden", False)]},
    ],
}


def attachment(name: str) -> dict:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


class BenchmarksCommandTests(ClientTestCase):
    def test_it_lists_the_benchmarks_one_can_see(self):
        code, out, _, opener = self.bench("benchmarks", answers=[(200, BENCHMARKS)])
        self.assertEqual(code, 0)
        self.assertEqual(opener.requests[0].full_url, "http://127.0.0.1:8000/api/v1/benchmarks/")
        self.assertEqual(
            out,
            "SLUG       TITLE      TASKS            SUBMISSIONS\n"
            "---------  ---------  ---------------  -----------\n"
            "sentiment  Sentiment  sst              open\n"
            "qa         Questions  squad, squad-v2  closed\n",
        )

    def test_no_benchmarks_says_so(self):
        _, out, _, _ = self.bench("benchmarks", answers=[(200, [])])
        self.assertEqual(out, "No benchmarks you can see.\n")


class DownloadCommandTests(ClientTestCase):
    CSV = b'"id","text","label"\n"train-000","good","pos"\n'

    def setUp(self):
        super().setUp()
        folder = tempfile.TemporaryDirectory()
        self.addCleanup(folder.cleanup)
        self.folder = folder.name

    def work_in_folder(self):
        self.addCleanup(os.chdir, os.getcwd())
        os.chdir(self.folder)

    def test_it_writes_the_split_to_the_given_file(self):
        path = os.path.join(self.folder, "train.csv")
        code, out, err, opener = self.bench(
            "--token",
            "k",
            "download",
            "sentiment",
            "sst",
            "train",
            "-o",
            path,
            answers=[(200, self.CSV)],
        )
        self.assertEqual((code, err), (0, ""))
        (request,) = opener.requests
        self.assertEqual(request.get_method(), "GET")
        self.assertEqual(
            request.full_url,
            "http://127.0.0.1:8000/api/v1/benchmarks/sentiment/tasks/sst/splits/train/inputs"
            "?format=csv",
        )
        self.assertEqual(request.get_header("Authorization"), "Token k")
        with open(path, "rb") as f:
            self.assertEqual(f.read(), self.CSV)
        self.assertEqual(out, f"Wrote {path} ({len(self.CSV)} bytes).\n")

    def test_it_asks_for_the_format_and_takes_the_name_the_platform_suggests(self):
        headers = {
            "Content-Disposition": 'attachment; filename="sentiment-sst-test-inputs.parquet"'
        }
        self.work_in_folder()
        code, out, _, opener = self.bench(
            "download",
            "sentiment",
            "sst",
            "test",
            "--format",
            "parquet",
            answers=[(200, b"PAR1", headers)],
        )
        self.assertEqual(code, 0)
        self.assertTrue(opener.requests[0].full_url.endswith("/splits/test/inputs?format=parquet"))
        with open(os.path.join(self.folder, "sentiment-sst-test-inputs.parquet"), "rb") as f:
            self.assertEqual(f.read(), b"PAR1")
        self.assertIn("Wrote sentiment-sst-test-inputs.parquet (4 bytes).", out)

    def test_a_suggested_name_cannot_leave_the_folder(self):
        headers = {"Content-Disposition": 'attachment; filename="../../etc/.profile"'}
        self.work_in_folder()
        code, _, _, _ = self.bench(
            "download", "sentiment", "sst", "dev", answers=[(200, b"x", headers)]
        )
        self.assertEqual(code, 0)
        self.assertEqual(os.listdir(self.folder), ["profile"])

    def test_a_refused_download_prints_the_platforms_message_and_writes_nothing(self):
        refused = {"errors": ["The inputs of split 'test' are not downloadable."]}
        path = os.path.join(self.folder, "test.csv")
        code, out, err, _ = self.bench(
            "download", "sentiment", "sst", "test", "-o", path, answers=[(404, refused)]
        )
        self.assertEqual((code, out), (1, ""))
        self.assertEqual(err, "error: The inputs of split 'test' are not downloadable.\n")
        self.assertFalse(os.path.exists(path))

    def test_an_unwritable_file_is_reported(self):
        path = os.path.join(self.folder, "no-such-folder", "x.csv")
        code, _, err, _ = self.bench(
            "download", "sentiment", "sst", "train", "-o", path, answers=[(200, self.CSV)]
        )
        self.assertEqual(code, 1)
        self.assertIn(f"Cannot write {path}", err)

    def test_only_known_formats_are_asked_for(self):
        with contextlib.redirect_stderr(io.StringIO()), self.assertRaises(SystemExit):
            main(["download", "sentiment", "sst", "train", "--format", "xlsx"])

    def test_without_a_split_it_writes_every_downloadable_split_into_the_folder(self):
        folder = os.path.join(self.folder, "data")
        answers = [(200, DETAIL)] + [
            (200, name.encode(), attachment(name))
            for name in ("s-sst-train.csv", "s-sst-dev.csv", "s-sst-test.csv", "s-topics-train.csv")
        ]
        code, out, err, opener = self.bench(
            "download", "sentiment", "--out", folder, answers=answers
        )
        self.assertEqual((code, err), (0, ""))
        self.assertEqual(
            [r.full_url.removeprefix("http://127.0.0.1:8000") for r in opener.requests],
            [
                "/api/v1/benchmarks/sentiment/",
                "/api/v1/benchmarks/sentiment/tasks/sst/splits/train/inputs?format=csv",
                "/api/v1/benchmarks/sentiment/tasks/sst/splits/dev/inputs?format=csv",
                "/api/v1/benchmarks/sentiment/tasks/sst/splits/test/inputs?format=csv",
                "/api/v1/benchmarks/sentiment/tasks/topics/splits/train/inputs?format=csv",
            ],
        )
        self.assertEqual(
            sorted(os.listdir(folder)),
            ["s-sst-dev.csv", "s-sst-test.csv", "s-sst-train.csv", "s-topics-train.csv"],
        )
        self.assertIn(f"Wrote {os.path.join(folder, 's-sst-dev.csv')} (13 bytes).", out)

    def test_split_picks_that_split_of_each_task(self):
        answers = [
            (200, DETAIL),
            (200, b"a", attachment("a.csv")),
            (200, b"b", attachment("b.csv")),
        ]
        code, _, _, opener = self.bench(
            "download", "sentiment", "--split", "train", "--out", self.folder, answers=answers
        )
        self.assertEqual(code, 0)
        self.assertEqual(
            [r.full_url.split("/benchmarks/sentiment/")[1] for r in opener.requests[1:]],
            [
                "tasks/sst/splits/train/inputs?format=csv",
                "tasks/topics/splits/train/inputs?format=csv",
            ],
        )

    def test_task_and_split_options_name_one_download_without_asking_for_the_benchmark(self):
        path = os.path.join(self.folder, "dev.jsonl")
        code, _, _, opener = self.bench(
            "download", "sentiment", "--task", "sst", "--split", "dev", "--format", "jsonl",
            "-o", path, answers=[(200, b"{}")],
        )  # fmt: skip
        self.assertEqual(code, 0)
        (request,) = opener.requests
        self.assertTrue(request.full_url.endswith("/tasks/sst/splits/dev/inputs?format=jsonl"))

    def test_one_file_cannot_hold_several_splits(self):
        path = os.path.join(self.folder, "x.csv")
        code, _, err, opener = self.bench(
            "download", "sentiment", "sst", "-o", path, answers=[(200, DETAIL)]
        )
        self.assertEqual(code, 1)
        self.assertEqual(
            err,
            "error: -o names one file, and this downloads 3 (sst/train, sst/dev, sst/test): "
            "use --out DIR.\n",
        )
        self.assertEqual(len(opener.requests), 1)

    def test_an_unknown_task_names_the_tasks_there_are(self):
        code, _, err, _ = self.bench("download", "sentiment", "test", answers=[(200, DETAIL)])
        self.assertEqual(code, 1)
        self.assertEqual(
            err,
            "error: No task 'test' on sentiment (its tasks: sst, topics). To choose a split, "
            "use --split.\n",
        )

    def test_an_unknown_split_names_the_ones_that_can_be_downloaded(self):
        code, _, err, opener = self.bench(
            "download", "sentiment", "--split", "validation", answers=[(200, DETAIL)]
        )
        self.assertEqual(code, 1)
        self.assertEqual(
            err,
            "error: No downloadable split 'validation' on sentiment (downloadable: dev, test, "
            "train).\n",
        )
        self.assertEqual(len(opener.requests), 1)

    def test_a_split_name_skips_the_tasks_where_it_is_not_downloadable(self):
        answers = [(200, DETAIL), (200, b"x", attachment("x.csv"))]
        code, _, _, opener = self.bench(
            "download", "sentiment", "--split", "test", "--out", self.folder, answers=answers
        )
        self.assertEqual(code, 0)
        self.assertEqual(len(opener.requests), 2)
        self.assertTrue(
            opener.requests[1].full_url.endswith("/tasks/sst/splits/test/inputs?format=csv")
        )

    def test_a_task_given_twice_differently_is_refused(self):
        code, _, err, opener = self.bench("download", "sentiment", "sst", "dev", "--task", "other")
        self.assertEqual(code, 1)
        self.assertEqual(err, "error: Two tasks given ('sst' and 'other'): give one.\n")
        self.assertEqual(opener.requests, [])

    def test_an_unknown_benchmark_prints_the_platforms_message(self):
        code, _, err, _ = self.bench(
            "download", "nope", answers=[(404, {"errors": ["No such benchmark."]})]
        )
        self.assertEqual((code, err), (1, "error: No such benchmark.\n"))
