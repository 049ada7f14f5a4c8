"""The quota under a race: uploads are validated and stored outside the lock, and the lock
covers only the count, the insert and the enqueue, so two uploads that arrive together for the
last slot cannot both get it. Real threads, each with its own database connection (on
PostgreSQL in CI, a row lock; on SQLite, its write lock)."""

import threading
from unittest import mock

from django.db import connection
from django.test import TransactionTestCase

from submissions.models import Submission
from submissions.services import SubmissionError, submission_create
from tests.base import gold_rows, make_benchmark, make_user, prediction_csv, upload


def uploads_race(benchmark, participants: list, content: bytes) -> tuple[list, list, list]:
    """Each participant uploads `content` at once, from a thread of its own (a database
    connection each): (submissions accepted, SubmissionErrors, any other exception, such as
    a deadlock or lock timeout)."""
    barrier = threading.Barrier(len(participants))
    won, refused, crashed = [], [], []

    def submit(participant):
        try:
            barrier.wait()
            won.append(
                submission_create(
                    benchmark=benchmark, participant=participant, uploaded_file=upload(content)
                )
            )
        except SubmissionError as exc:
            refused.append(exc)
        except Exception as exc:
            crashed.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(p,)) for p in participants]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return won, refused, crashed


class LastQuotaSlotRaceTests(TransactionTestCase):
    def setUp(self):
        self.alice = make_user("alice")
        self.benchmark = make_benchmark(max_total=2)
        self.content = prediction_csv(gold_rows(self.benchmark))
        publish = mock.patch("submissions.tasks.score_submission.apply_async")
        publish.start()
        self.addCleanup(publish.stop)

    def race(self, clients: int) -> tuple[list[Submission], list[SubmissionError]]:
        won, refused, crashed = uploads_race(self.benchmark, [self.alice] * clients, self.content)
        self.assertEqual(crashed, [])
        return won, refused

    def test_two_uploads_at_once_for_the_last_slot_exactly_one_wins(self):
        submission_create(
            benchmark=self.benchmark, participant=self.alice, uploaded_file=upload(self.content)
        )
        won, refused = self.race(2)
        self.assertEqual(len(won), 1)
        self.assertEqual(len(refused), 1)
        self.assertEqual(refused[0].status_code, 429)
        self.assertEqual(Submission.objects.filter(participant=self.alice).count(), 2)

    def test_eight_uploads_at_once_fill_the_quota_and_no_more(self):
        storage = Submission._meta.get_field("file").storage
        folder = (
            Submission(benchmark=self.benchmark)
            .file.field.generate_filename(Submission(benchmark=self.benchmark), "x")
            .rsplit("/", 1)[0]
        )
        before = set(storage.listdir(folder)[1]) if storage.exists(folder) else set()
        won, refused = self.race(8)
        self.assertEqual(len(won), 2)
        self.assertEqual(len(refused), 6)
        self.assertTrue(all(exc.status_code == 429 for exc in refused))
        self.assertEqual(Submission.objects.filter(participant=self.alice).count(), 2)
        # The refused uploads kept nothing in storage: only the winners' files are new.
        self.assertEqual(
            set(storage.listdir(folder)[1]) - before, {s.file.name.rsplit("/", 1)[1] for s in won}
        )
