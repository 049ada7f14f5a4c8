from django.core.management.base import BaseCommand

from submissions.board_entries import entries_rebuild


class Command(BaseCommand):
    help = (
        "Recompute the board entries (the rows of the default boards) of every split, or of "
        "the splits given by id: after evaluations were written other than by the platform."
    )

    def add_arguments(self, parser):
        parser.add_argument("splits", nargs="*", type=int, help="split ids (default: all)")

    def handle(self, *args, splits, **options):
        written = entries_rebuild(splits or None)
        where = f"{len(splits)} splits" if splits else "every split"
        self.stdout.write(f"Rebuilt the board entries of {where}: {written} entries.")
