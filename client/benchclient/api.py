"""A small client for the platform's REST API (`/api/v1/`), built on urllib alone."""

from __future__ import annotations

import http.client
import json
import os
import re
import uuid
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlencode
from urllib.request import OpenerDirector, Request, build_opener

from benchclient import __version__
from benchclient.config import DEFAULT_URL

FINAL_STATES = frozenset({"scored", "failed", "cancelled"})
TOKENS_PAGE = "/accounts/tokens/"

__all__ = ["DEFAULT_URL", "FINAL_STATES", "TOKENS_PAGE", "ApiError", "Client"]


class ApiError(Exception):
    """A request the platform refused (its `errors` messages) or could not be made.

    `status` is the HTTP status (None when no answer came); `retry_after` the seconds a 429 or
    503 asks to wait, where it says."""

    def __init__(
        self,
        messages: list[str],
        status: int | None = None,
        *,
        retry_after: float | None = None,
    ):
        self.messages = list(messages) or ["Unknown error."]
        self.status = status
        self.retry_after = retry_after
        super().__init__("; ".join(self.messages))


def retry_after(exc: HTTPError) -> float | None:
    """The `Retry-After` seconds of an answer, where it gives them as a number."""
    value = (exc.headers or {}).get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: rare enough to wait the usual interval instead


def encode_multipart(
    fields: dict[str, str], files: dict[str, tuple[str, bytes]]
) -> tuple[bytes, str]:
    """(body, content type) of a multipart/form-data request with text fields and files."""
    boundary = f"benchclient-{uuid.uuid4().hex}"
    parts = []
    for name, value in fields.items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode()
            + b"\r\n"
        )
    for name, (filename, data) in files.items():
        # The file name is the participant's own; keep it from breaking the header.
        safe = "".join("_" if c in '"\\\r\n' else c for c in filename)
        parts.append(
            (
                f"--{boundary}\r\n"
                f'Content-Disposition: form-data; name="{name}"; filename="{safe}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + data
            + b"\r\n"
        )
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def error_messages(exc: HTTPError) -> list[str]:
    """The `errors` of an API error answer, or a line about the HTTP status when the answer is
    not the API's (a proxy's error page, say)."""
    try:
        body = json.loads(exc.read() or b"null")
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"]:
        return [str(m) for m in body["errors"]]
    return [f"HTTP {exc.code} {exc.reason} from {exc.url}."]


class Client:
    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        opener: OpenerDirector | None = None,
        timeout: float = 120,
    ):
        self.url = (url or os.environ.get("BENCH_URL") or DEFAULT_URL).rstrip("/")
        self.token = token or os.environ.get("BENCH_TOKEN") or None
        self.opener = opener or build_opener()
        self.timeout = timeout

    @property
    def tokens_page(self) -> str:
        return self.url + TOKENS_PAGE

    def require_token(self) -> None:
        if not self.token:
            raise ApiError(
                [
                    "This needs an API token: run `bench login` (create a token on "
                    f"{self.tokens_page}), or pass --token or set BENCH_TOKEN."
                ]
            )

    def send(
        self,
        method: str,
        path: str,
        *,
        query: dict | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
        accept: str = "application/json",
    ) -> tuple[str, bytes, dict[str, str]]:
        """(url, body, headers) of the answer to `method path` (a path under the platform, or
        a full URL such as a leaderboard's `next`)."""
        url = path if path.startswith(("http://", "https://")) else self.url + path
        query = {k: v for k, v in (query or {}).items() if v not in (None, "")}
        if query:
            url += "?" + urlencode(query)
        headers = {"Accept": accept, "User-Agent": f"benchclient/{__version__}"}
        if self.token:
            headers["Authorization"] = f"Token {self.token}"
        if content_type:
            headers["Content-Type"] = content_type
        request = Request(url, data=body, headers=headers, method=method)
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                data = response.read()
                answer_headers = dict(getattr(response, "headers", None) or {})
        except HTTPError as exc:
            raise ApiError(
                error_messages(exc), status=exc.code, retry_after=retry_after(exc)
            ) from None
        except URLError as exc:
            reason = exc.reason
            if isinstance(reason, TimeoutError):
                reason = f"no answer within {self.timeout:.0f} s"
            raise ApiError([f"Cannot reach {self.url}: {reason}."]) from None
        except TimeoutError:
            raise ApiError([f"{self.url} did not answer within {self.timeout:.0f} s."]) from None
        except (OSError, http.client.HTTPException) as exc:
            # Raised while reading the answer rather than connecting (a server that closed the
            # connection, an answer cut short): urllib passes these on unwrapped.
            raise ApiError(
                [f"The connection to {self.url} failed: {exc or type(exc).__name__}."]
            ) from None
        return url, data, answer_headers

    def request(
        self,
        method: str,
        path: str,
        *,
        query: dict | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
    ):
        """The decoded JSON answer to `method path`."""
        url, data, _ = self.send(method, path, query=query, body=body, content_type=content_type)
        try:
            return json.loads(data)
        except ValueError:
            raise ApiError(
                [f"{url} did not answer with JSON; is {self.url} the platform?"]
            ) from None

    def submit(
        self,
        benchmark: str,
        path: str,
        *,
        task: str | None = None,
        name: str | None = None,
        description: str | None = None,
        phase: str | None = None,
    ) -> dict:
        self.require_token()
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise ApiError([f"Cannot read {path}: {exc.strerror}."]) from None
        fields = {"task": task, "name": name, "description": description, "phase": phase}
        body, content_type = encode_multipart(
            {k: v for k, v in fields.items() if v},
            {"file": (os.path.basename(path), data)},
        )
        return self.request(
            "POST",
            f"/api/v1/benchmarks/{quote(benchmark, safe='')}/submissions/",
            body=body,
            content_type=content_type,
        )

    def submit_model(
        self,
        benchmark: str,
        *,
        repo_id: str | None = None,
        revision: str | None = None,
        archive: str | None = None,
        task: str | None = None,
        name: str | None = None,
        description: str | None = None,
        phase: str | None = None,
    ) -> dict:
        """A model: a Hub repository at a revision (JSON), or an archive file (multipart)."""
        self.require_token()
        path = f"/api/v1/benchmarks/{quote(benchmark, safe='')}/submissions/"
        fields = {"task": task, "name": name, "description": description, "phase": phase}
        fields = {k: v for k, v in fields.items() if v}
        if archive is None:
            model = {"repo_id": repo_id, **({"revision": revision} if revision else {})}
            body = json.dumps({"model": model, **fields}).encode()
            return self.request("POST", path, body=body, content_type="application/json")
        try:
            with open(archive, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise ApiError([f"Cannot read {archive}: {exc.strerror}."]) from None
        body, content_type = encode_multipart(
            {"kind": "model", **fields}, {"model_archive": (os.path.basename(archive), data)}
        )
        return self.request("POST", path, body=body, content_type=content_type)

    def benchmarks(self) -> list[dict]:
        return self.request("GET", "/api/v1/benchmarks/")

    def benchmark(self, benchmark: str) -> dict:
        return self.request("GET", f"/api/v1/benchmarks/{quote(benchmark, safe='')}/")

    def own_submissions(self, *, benchmark: str | None = None) -> dict:
        """The first page of the caller's own submissions (a request that needs a valid
        token, which is why `bench login` makes it)."""
        self.require_token()
        return self.request("GET", "/api/v1/submissions/", query={"benchmark": benchmark})

    def submission(self, submission_id: int) -> dict:
        self.require_token()
        return self.request("GET", f"/api/v1/submissions/{submission_id}/")

    def breakdown(
        self, submission_id: int, *, task: str | None = None, split: str | None = None
    ) -> dict:
        return self.request(
            "GET",
            f"/api/v1/submissions/{submission_id}/breakdown/",
            query={"task": task, "split": split},
        )

    def cancel(self, submission_id: int) -> dict:
        self.require_token()
        return self.request("POST", f"/api/v1/submissions/{submission_id}/cancel/")

    def leaderboard(
        self,
        benchmark: str,
        *,
        task: str | None = None,
        split: str | None = None,
        sort: str | None = None,
        page: int | None = None,
    ) -> dict:
        return self.request(
            "GET",
            f"/api/v1/benchmarks/{quote(benchmark, safe='')}/leaderboard/",
            query={"task": task, "split": split, "sort": sort, "page": page},
        )

    def download(
        self, benchmark: str, task: str, split: str, *, fmt: str = "csv"
    ) -> tuple[bytes, str]:
        """(content, suggested file name) of a split's download: ids and inputs, and the labels
        of train and public splits."""
        path = "/api/v1/benchmarks/{}/tasks/{}/splits/{}/inputs".format(
            *(quote(part, safe="") for part in (benchmark, task, split))
        )
        _, data, headers = self.send("GET", path, query={"format": fmt}, accept="*/*")
        disposition = {k.lower(): v for k, v in headers.items()}.get("content-disposition", "")
        match = re.search(r'filename="([^"]+)"', disposition)
        # The name becomes a local file: no folders, no leading dots, plain characters only.
        name = re.sub(r"[^A-Za-z0-9._-]", "_", os.path.basename(match.group(1))) if match else ""
        return data, name.lstrip(".") or f"{benchmark}-{task}-{split}.{fmt}"
