"""Hostile zips: refused at upload from the zip's directory, before anything is unpacked, with a
message naming the member; unpacking holds within the decoded-size cap; and no archive, however
damaged, gets anything but PredictionsRejected (docs/formats.md, "Prediction files")."""

from __future__ import annotations

import functools
import gzip
import io
import json
import struct
import subprocess
import sys
import tempfile
import textwrap
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import django as hypothesis_django

from benchmarks.models import Split
from scoring.predictions import Limits, PredictionFileError
from submissions.models import Submission
from submissions.services import SubmissionError, submission_create
from submissions.uploads import PredictionsRejected, TaskFile, predictions_check
from tests.base import (
    PlatformTestCase,
    gold_rows,
    make_split,
    make_task,
    prediction_csv,
    upload,
)

REPO = Path(__file__).resolve().parents[2]
MB = 1 << 20


def zipped(files: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", method) as archive:
        for name, content in files:
            archive.writestr(name, content)
    return sink.getvalue()


@functools.cache
def zip_of_zeros() -> Path:
    """`sst.csv` holding a header and 1 GiB of zeros, written through zipfile a megabyte at a
    time (about 1 MB on disk; built once per run)."""
    path = Path(tempfile.mkdtemp()) / "bomb.zip"
    zeros = bytes(MB)
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive,
        archive.open("sst.csv", "w") as member,
    ):
        member.write(b"id,prediction\n")
        for _ in range(1024):
            member.write(zeros)
    return path


def patched(data: bytes, **fields: int) -> bytes:
    """A one-member zip with fields of its directory record and local header changed:
    `file_size` (the declared unpacked size), `flags`, `method`."""
    out = bytearray(data)
    directory, local = out.rfind(b"PK\x01\x02"), out.find(b"PK\x03\x04")
    offsets = {"file_size": (24, 22, "<L"), "flags": (8, 6, "<H"), "method": (10, 8, "<H")}
    for name, value in fields.items():
        in_directory, in_header, fmt = offsets[name]
        struct.pack_into(fmt, out, directory + in_directory, value)
        struct.pack_into(fmt, out, local + in_header, value)
    return bytes(out)


def unzipped_in_a_fresh_interpreter(path: Path, max_mb: int) -> tuple[str, int]:
    """(outcome, peak growth in bytes) of checking the zip's directory and unpacking its
    members, in an interpreter of its own, from what it holds just before."""
    code = textwrap.dedent(
        f"""
        import json, os
        from types import SimpleNamespace
        import django
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        django.setup()
        from scoring.predictions import Limits, PredictionFileError
        from submissions.uploads import PredictionsRejected, _zip_task_files

        def status(key):
            for line in open("/proc/self/status"):
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024

        limits = Limits(max_bytes={max_mb} << 20)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        resident = status("VmRSS")
        try:
            with open({str(path)!r}, "rb") as f:
                tasks = [SimpleNamespace(slug="sst", pk=1)]
                found = _zip_task_files(f, tasks=tasks, task=None, limits=limits, splits={{1: []}})
                for task_file in found:
                    task_file.open()
            outcome = "accepted"
        except PredictionsRejected as exc:
            outcome = " ".join(exc.messages)
        except PredictionFileError as exc:
            outcome = str(exc)
        print(json.dumps({{"outcome": outcome, "growth": status("VmHWM") - resident}}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return result["outcome"], result["growth"]


class HostileZipTests(PlatformTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.good = prediction_csv(gold_rows(cls.benchmark))

    def refused(self, content: bytes, name: str = "all.zip") -> str:
        with self.assertRaises(PredictionsRejected) as caught:
            predictions_check(benchmark=self.benchmark, task=None, uploaded=upload(content, name))
        return " ".join(caught.exception.messages)

    def test_a_member_declaring_a_gigabyte_is_refused_from_the_directory(self):
        path = zip_of_zeros()
        self.assertLess(path.stat().st_size, 6 * MB)
        message = self.refused(path.read_bytes())
        self.assertIn("sst.csv: it unpacks to 1,024 MB; the limit for a prediction file", message)
        outcome, growth = unzipped_in_a_fresh_interpreter(path, 200)
        self.assertIn("it unpacks to 1,024 MB", outcome)
        self.assertLess(growth, 8 * MB)  # nothing was unpacked

    def test_a_member_that_lies_about_its_size_stops_at_what_it_declared(self):
        path = Path(tempfile.mkdtemp()) / "liar.zip"
        path.write_bytes(patched(zip_of_zeros().read_bytes(), file_size=4 * MB))
        message = self.refused(path.read_bytes())
        self.assertIn("sst.csv: it could not be unpacked: the zip is damaged", message)
        outcome, growth = unzipped_in_a_fresh_interpreter(path, 200)
        self.assertIn("the zip is damaged", outcome)
        self.assertLess(growth, 3 * 200 * MB)
        self.assertLess(growth, 64 * MB)  # the 4 MB it declared, not the gigabyte it holds

    def test_unpacking_stops_at_the_cap_whatever_the_directory_says(self):
        archive = zipfile.ZipFile(io.BytesIO(zipped([("sst.csv", bytes(3 * MB))])))
        member = archive.infolist()[0]
        task_file = TaskFile(
            self.task, "sst.csv", Limits(max_bytes=MB), archive=archive, member=member
        )
        with self.assertRaises(PredictionFileError) as caught:
            task_file.open()
        self.assertIn("it unpacks to more than 1 MB", str(caught.exception))

    def test_a_task_given_twice_is_refused_naming_both_files(self):
        for names in (("sst.csv", "dir/sst.csv"), ("sst.csv", "sst.jsonl")):
            content = zipped([(names[0], self.good), (names[1], self.good)])
            message = self.refused(content)
            self.assertIn(f"{names[0]}, {names[1]}: 2 files for task 'sst'", message)
            self.assertIn("one file per task", message)

    def test_too_many_entries_are_refused_before_the_zip_is_opened(self):
        content = zipped([(f"n{i}.txt", b"") for i in range(1_001)])
        self.assertIn("more than 1,000 entries", self.refused(content))

    def test_a_member_whose_name_is_cut_to_nothing_is_refused(self):
        # zipfile cuts a name at its first NUL byte: "\x00" becomes "", which it cannot even
        # ask whether it is a folder.
        sink = io.BytesIO()
        with zipfile.ZipFile(sink, "w") as archive:
            archive.writestr(zipfile.ZipInfo("\x00"), self.good)
            archive.writestr("sst.csv", self.good)
        self.assertIn("A file in the zip has no name", self.refused(sink.getvalue()))

    def test_an_encrypted_member_is_refused(self):
        content = patched(zipped([("sst.csv", self.good)]), flags=0x1)
        self.assertIn("sst.csv: it is encrypted", self.refused(content))

    def test_an_unknown_compression_method_is_refused(self):
        content = patched(zipped([("sst.csv", self.good)]), method=99)
        self.assertIn(
            "sst.csv: it is compressed with a method other than deflate", self.refused(content)
        )

    def test_bzip2_and_lzma_members_are_refused_unread(self):
        # zipfile inflates these with no bound on one piece: a 337-byte bzip2 member took a
        # process to 835 MB, whatever size it declared.
        for method in (zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):
            with self.subTest(method=method):
                self.assertIn(
                    "sst.csv: it is compressed with a method other than deflate",
                    self.refused(zipped([("sst.csv", self.good)], method)),
                )

    def test_a_corrupt_member_is_refused_naming_it(self):
        content = bytearray(zipped([("sst.csv", self.good * 20)]))
        content[60:80] = bytes(20)
        self.assertIn("sst.csv: ", self.refused(bytes(content)))

    @override_settings(MAX_PREDICTION_DECODED_MB=8)
    def test_a_gzip_bomb_inside_a_zip_stops_at_the_cap(self):
        bomb = gzip.compress(b"id,prediction\n" + bytes(64 * MB), 1)
        message = self.refused(zipped([("sst.csv.gz", bomb)], zipfile.ZIP_STORED))
        self.assertIn("sst.csv.gz: The file is larger than 8.0 MB once decompressed", message)

    def test_a_good_zip_is_still_accepted(self):
        for method in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            content = zipped([("sst.csv", self.good), ("readme.txt", b"")], method)
            with self.assertRaises(PredictionsRejected) as caught:
                predictions_check(
                    benchmark=self.benchmark, task=None, uploaded=upload(content, "a.zip")
                )
            self.assertEqual(
                caught.exception.messages, ["readme.txt: expected <task>.csv, .jsonl or .parquet."]
            )
            content = zipped([("sst.csv", self.good), ("dir/", b"")], method)
            predictions_check(
                benchmark=self.benchmark, task=None, uploaded=upload(content, "a.zip")
            )


class TextLimitUploadTests(PlatformTestCase):
    """Scoring time grows with the length of generated texts: a file far longer than any real
    output is refused at upload instead of holding a worker for minutes."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.summ = make_task(
            cls.benchmark,
            "summ",
            type="text-generation",
            input_columns=["text"],
            label_column="summary",
            metrics=[{"name": "rouge"}],
            primary_metric="rougeL",
        )
        rows = [{"id": f"s-{i}", "text": "a text", "summary": "a summary"} for i in range(10)]
        make_split(cls.summ, "test", Split.Role.HIDDEN, rows)

    def submit(self, texts: list[str]):
        lines = "".join(
            json.dumps({"id": f"s-{i}", "prediction": text}) + "\n" for i, text in enumerate(texts)
        )
        with self.assertRaises(SubmissionError) as caught:
            submission_create(
                benchmark=self.benchmark,
                participant=self.alice,
                uploaded_file=upload(lines.encode(), "summ.jsonl"),
                task=self.summ,
            )
        self.assertFalse(Submission.objects.exists())
        return " ".join(caught.exception.messages)

    def test_a_text_over_the_per_prediction_limit_is_refused(self):
        message = self.submit(["short"] * 9 + ["word " * 5_000])
        self.assertIn(
            "1 prediction is longer than 20,000 characters (the longest has 25,000)", message
        )
        self.assertIn('e.g. at id "s-9"', message)

    def test_texts_over_the_per_file_budget_are_refused(self):
        message = self.submit(["word " * 3_000] * 10)
        self.assertIn("The predictions hold 150,000 characters in all", message)
        self.assertIn("2,000 per id on average (20,000 for the task's 10 ids)", message)
        self.assertNotIn("a summary", message)


NAMES = st.sampled_from(
    [
        "sst.csv",
        "dir/sst.csv",
        "sst.jsonl",
        "sst.parquet",
        "sst.csv.gz",
        "other.csv",
        ".hidden",
        "__MACOSX/._sst.csv",
        "readme.txt",
        "x" * 300 + ".csv",
    ]
) | st.text(min_size=1, max_size=30)
METHODS = st.sampled_from(
    [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]
)


class ZipFuzzTests(hypothesis_django.TestCase, PlatformTestCase):
    """Archives built from plausible and implausible members, then damaged: the outcome is
    accepted or a PredictionsRejected with sentences, never another exception."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        good = prediction_csv(gold_rows(cls.benchmark))
        cls.contents = [good, gzip.compress(good), good[:50], b"", b"id,prediction\n" + b"[" * 999]

    @pytest.mark.filterwarnings("ignore:Duplicate name")  # duplicates are part of the test
    @settings(
        max_examples=150,
        deadline=timedelta(seconds=10),  # generous: CI machines are shared
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(
        members=st.lists(
            st.tuples(NAMES, st.integers(0, 4) | st.binary(max_size=300), METHODS), max_size=4
        ),
        damage=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=6),
        cut=st.none() | st.floats(0, 1),
    )
    def test_damaged_archives_are_refused_with_sentences(self, members, damage, cut):
        sink = io.BytesIO()
        with zipfile.ZipFile(sink, "w") as archive:
            for name, content, method in members:
                data = self.contents[content] if isinstance(content, int) else content
                archive.writestr(zipfile.ZipInfo(name), data, compress_type=method)
        data = bytearray(sink.getvalue())
        for where, value in damage:
            data[min(int(where * len(data)), len(data) - 1)] = value
        if cut is not None:
            data = data[: int(cut * len(data))]
        try:
            predictions_check(
                benchmark=self.benchmark, task=None, uploaded=upload(bytes(data), "p.zip")
            )
        except PredictionsRejected as exc:
            self.assertTrue(exc.messages)
            self.assertTrue(all(isinstance(m, str) and m.strip() for m in exc.messages))
