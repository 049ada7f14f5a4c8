"""The locust user of bench/leaderboard.py (not a benchmark of its own): GETs one path back to
back, anonymously, and when the run ends writes every response (end time, milliseconds, status)
to a JSON file, from which the bench computes exact percentiles and requests/s.

    LB_PATH=/api/v1/benchmarks/x/leaderboard/ LB_TIMES=/tmp/t.json LB_MAX=300 \\
        .venv/bin/locust -f bench/leaderboard_locust.py --headless -u 4 -r 4 -t 20s -H http://...

LB_MAX stops the run after that many responses (or at -t, whichever comes first).
"""

from __future__ import annotations

import json
import os
import time

import gevent
from locust import FastHttpUser, constant, events, task

PATH = os.environ.get("LB_PATH", "/")
TIMES_FILE = os.environ.get("LB_TIMES")
MAX_RESPONSES = int(os.environ.get("LB_MAX", "0") or 0)
responses: list[tuple[float, float, int]] = []


@events.request.add_listener
def record(response_time, response=None, exception=None, **_):
    status = getattr(response, "status_code", 0) or 0
    responses.append((time.time(), response_time, status if exception is None else -status))


@events.quitting.add_listener
def dump(**_):
    if TIMES_FILE:
        with open(TIMES_FILE, "w") as f:
            json.dump(responses, f)


class Reader(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self) -> None:
        if MAX_RESPONSES and len(responses) >= MAX_RESPONSES:
            gevent.spawn(self.environment.runner.quit)
            gevent.sleep(1)
            return
        self.client.get(PATH, name=PATH)
