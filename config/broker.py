"""The embedded default's broker: kombu's filesystem transport, made safe for several processes
publishing while a worker consumes (docs/queue.md).

kombu creates a message file under its final name and then writes into it, and a consumer
reads whatever `*.msg` file it lists: it can read one that is still empty or half-written, fail
to decode it, and stop the worker with the message already gone (kombu issue 1551). Here a
message is written under a name that consumers skip and renamed into place once complete, and a
consumer claims a file by renaming it, so that of several consumers exactly one gets it. Both
renames stay within one folder tree on one filesystem, where a rename is atomic.

Settings select it with CELERY_BROKER_TRANSPORT when CELERY_BROKER_URL is `filesystem://`.
"""

from __future__ import annotations

import logging
import os
import tempfile
import uuid
from contextlib import suppress
from queue import Empty
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

logger = logging.getLogger(__name__)


def write_atomically(folder: str, name: str, data: bytes, *, replace: bool = True) -> None:
    """Write `data` to folder/name so that no reader ever sees a partial file. With
    replace=False an existing file wins (FileExistsError)."""
    # A dot-leading name: consumers match `<stamp>_<uuid>.<queue>.msg` only.
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        if replace:
            os.replace(tmp, os.path.join(folder, name))
        else:
            os.link(tmp, os.path.join(folder, name))  # fails if the name exists
    finally:
        with suppress(FileNotFoundError):
            os.unlink(tmp)  # gone already after os.replace


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        try:
            write_atomically(self.data_folder_out, name, str_to_bytes(dumps(payload)))
        except OSError as exc:
            raise ChannelError(f"Cannot add {name!r} to {self.data_folder_out!r}") from exc

    def _get(self, queue):
        wanted = f"{queue}.msg"
        for name in sorted(os.listdir(self.data_folder_in)):
            if name.partition(".")[2] != wanted:
                continue
            claimed = os.path.join(self.processed_folder, name)
            try:
                os.rename(os.path.join(self.data_folder_in, name), claimed)
            except FileNotFoundError:
                continue  # another consumer claimed it first
            except OSError as exc:
                raise ChannelError(f"Cannot claim {name!r} from the queue") from exc
            try:
                with open(claimed, "rb") as f:
                    payload = loads(bytes_to_str(f.read()))
            except ValueError:
                # Only a file written by something other than _put above (an older version
                # of the platform, a hand edit) gets here: keep it for a person to look at
                # rather than stop the worker.
                logger.error("Set aside an unreadable broker message: %s", claimed)
                continue
            except OSError as exc:
                raise ChannelError(f"Cannot read {claimed!r}") from exc
            if not self.store_processed:
                os.unlink(claimed)
            return payload
        raise Empty()

    def _queue_bind(self, exchange, routing_key, pattern, queue):
        # kombu creates an exchange's table file empty and then locks it to write the first
        # binding; a second worker binding at the same moment can read it empty and fail. Create
        # it whole, with no bindings, before kombu takes its lock to add one.
        file = self._exchange_file(exchange)
        self.control_folder.mkdir(parents=True, exist_ok=True)
        with suppress(FileExistsError):
            write_atomically(str(self.control_folder), file.name, b"[]", replace=False)
        super()._queue_bind(exchange, routing_key, pattern, queue)


class Transport(filesystem.Transport):
    Channel = Channel
