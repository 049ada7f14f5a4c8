"""Scale-out is Celery's: a second worker "host" in a network namespace of its own, reaching the
database and the broker over a veth pair like another machine would, consumes the same queue
and shares the load; killing it mid-run loses nothing (its job runs again on the first host).

The namespace, the veth pair (loopback-range addresses only, so nothing leaves the machine), a
Redis server and a PostgreSQL relay on the host side of the pair are made by the test, which
needs root, iproute2, socat and redis-server, and the PostgreSQL + Redis stack (CI)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import uuid

import pytest
from django.conf import settings

from tests.e2e.embedded import EmbeddedPlatform, free_port, http, multipart
from tests.e2e.test_broker_faults import RedisServer
from tests.e2e.test_worker_death import write_bundle

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        os.geteuid() != 0
        or not all(shutil.which(tool) for tool in ("ip", "socat", "redis-server"))
        or settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
        reason="needs root, iproute2, socat, redis-server and PostgreSQL (CI's first pass)",
    ),
]

SUBMISSIONS = 16

STATES = (
    "import json\n"
    "from submissions.models import Submission\n"
    "rows = Submission.objects.filter(is_baseline=False)\n"
    "print(json.dumps([[s.status, s.claims, s.evaluations.count()] for s in rows]))\n"
)


def run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True)


class Namespace:
    """A network namespace joined to the host by a veth pair: host side HOST, inside GUEST."""

    def __init__(self):
        tag = uuid.uuid4().hex[:6]
        self.name, self.host_if, self.guest_if = f"bench-{tag}", f"vh{tag}", f"vg{tag}"
        octet = int(tag[:2], 16) % 250 + 1
        self.host, self.guest = f"127.{octet}.7.1", f"127.{octet}.7.2"

    def __enter__(self) -> Namespace:
        ns = ["ip", "netns", "exec", self.name]
        run("ip", "netns", "add", self.name)
        run(*ns, "ip", "link", "set", "lo", "up")
        run("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.guest_if)
        run("ip", "link", "set", self.guest_if, "netns", self.name)
        run("ip", "addr", "add", f"{self.host}/30", "dev", self.host_if)
        run(*ns, "ip", "addr", "add", f"{self.guest}/30", "dev", self.guest_if)
        run("ip", "link", "set", self.host_if, "up")
        run(*ns, "ip", "link", "set", self.guest_if, "up")
        # 127.0.0.0/8 addresses are routed off the loopback interface only where allowed.
        run("sysctl", "-qw", f"net.ipv4.conf.{self.host_if}.route_localnet=1")
        run(*ns, "sysctl", "-qw", f"net.ipv4.conf.{self.guest_if}.route_localnet=1")
        return self

    def __exit__(self, *exc_info) -> None:
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True)
        subprocess.run(["ip", "link", "del", self.host_if], capture_output=True)


def test_a_worker_host_in_its_own_network_shares_the_load_and_may_die(tmp_path):
    db = settings.DATABASES["default"]
    with Namespace() as net:
        redis = RedisServer(free_port(), bind=net.host)
        redis.start()
        # The system's PostgreSQL listens on 127.0.0.1 only: relay the host side of the pair.
        relay = subprocess.Popen(
            [
                "socat",
                f"TCP-LISTEN:{db['PORT'] or 5432},bind={net.host},reuseaddr,fork",
                f"TCP:{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}",
            ]
        )
        platform = EmbeddedPlatform(
            tmp_path,
            stack="production",
            CELERY_BROKER_URL=f"redis://{net.host}:{redis.port}/0",
            HEARTBEAT_SECONDS="1",
            LEASE_SECONDS="4",
            REAPER_INTERVAL_SECONDS="1",
        )
        name = platform.env["DATABASE_URL"].rsplit("/", 1)[1]
        platform.env["DATABASE_URL"] = f"postgres://postgres@{net.host}:{db['PORT'] or 5432}/{name}"
        try:
            ids = write_bundle(tmp_path / "bundle", rows=2_000)
            platform.manage("migrate", "--noinput")
            platform.manage("import_benchmark", str(tmp_path / "bundle"))
            token = platform.manage("create_api_token", "p", "--create-user").splitlines()[-1]
            base = platform.start_web()
            worker = ["-Q", "scoring", "-c", "1", "--loglevel", "INFO"]
            platform.start_worker("maintenance", "-Q", "maintenance", "-c", "1", "--beat")
            platform.start_worker("here", *worker, "-n", "here@%h")
            platform.start(
                "there",
                [
                    "ip",
                    "netns",
                    "exec",
                    net.name,
                    *platform.worker_command(*worker, "-n", "there@%h"),
                ],
            )
            content = ("id,prediction\n" + "".join(f"{i},w1 w2 w3\n" for i in ids)).encode()
            for n in range(SUBMISSIONS):
                payload, boundary = multipart({"name": f"run {n}"}, "p.csv", content)
                http(
                    "POST",
                    f"{base}/api/v1/benchmarks/crash/submissions/",
                    token,
                    payload,
                    {"Content-Type": f"multipart/form-data; boundary={boundary}"},
                )

            def done_by(name: str) -> int:
                return platform.log(name, tail=None).count("succeeded in")

            deadline = time.monotonic() + 120
            while done_by("there") < 2:
                assert time.monotonic() < deadline, platform.log("there")
                time.sleep(0.1)
            platform.kill("there")  # mid-run: the queue still holds work
            deadline = time.monotonic() + 180
            while True:
                states = json.loads(platform.manage("shell", "-c", STATES).splitlines()[-1])
                if all(status in ("scored", "failed") for status, _, _ in states):
                    break
                assert time.monotonic() < deadline, (states, platform.log("maintenance"))
                time.sleep(1)
            assert len(states) == SUBMISSIONS
            assert all(status == "scored" and n == 1 for status, _, n in states), states
            assert done_by("here") >= 1 and done_by("there") >= 2  # both hosts took a share
        finally:
            platform.stop()
            relay.terminate()
            redis.stop()
