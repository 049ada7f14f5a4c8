"""Where `bench` finds the platform's address and the API token.

Each comes from, first found wins: the `--url` / `--token` option, the `BENCH_URL` /
`BENCH_TOKEN` environment variable, the config file that `bench login` writes, and for the
address the local default. The file keeps one token per address, so that pointing `bench` at
another server with `--url` never sends it the token of the first one.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

DEFAULT_URL = "http://127.0.0.1:8000"


class ConfigError(Exception):
    """The config file cannot be read or written; the message says which and why."""


def config_path() -> Path:
    """`$XDG_CONFIG_HOME/benchclient/config.json`, or `~/.config/benchclient/config.json`."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "benchclient" / "config.json"


def normalize_url(url: str) -> str:
    return url.strip().rstrip("/")


def load_config(path: Path | None = None) -> dict:
    """The saved settings (`{"url": ..., "tokens": {url: token}}`), or {} without a file."""
    path = path or config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror}.") from None
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("tokens", {}), dict):
        raise ConfigError(f"{path} is not a config file of bench: fix or delete it.")
    return data


def save_config(data: dict, path: Path | None = None) -> Path:
    """Write the settings readable by the owner only (they hold a token): a new file is created
    with mode 0600 and then renamed over the old one, so no reader sees half a file."""
    path = path or config_path()
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # mkstemp creates the file with mode 0600.
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".config-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=2, sort_keys=True)
                f.write("\n")
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError as exc:
        raise ConfigError(f"Cannot write {path}: {exc.strerror}.") from None
    return path


@dataclass(frozen=True)
class Settings:
    url: str
    token: str | None
    # Where the token came from: "--token", "BENCH_TOKEN", the config file's path, or None.
    token_source: str | None


def resolve(url: str | None = None, token: str | None = None) -> Settings:
    """The address and token to use: options, then environment, then the config file (read
    only when it is needed), then the default address."""
    saved: dict | None = None

    def config() -> dict:
        nonlocal saved
        if saved is None:
            saved = load_config()
        return saved

    url = url or os.environ.get("BENCH_URL") or config().get("url") or DEFAULT_URL
    url = normalize_url(url)
    if token:
        return Settings(url, token, "--token")
    if os.environ.get("BENCH_TOKEN"):
        return Settings(url, os.environ["BENCH_TOKEN"], "BENCH_TOKEN")
    token = config().get("tokens", {}).get(url)
    return Settings(url, token or None, str(config_path()) if token else None)


def remember(url: str, token: str) -> Path:
    """Save `token` for `url` and make `url` the default address; the file's path."""
    data = load_config()
    url = normalize_url(url)
    data["url"] = url
    data["tokens"] = {**data.get("tokens", {}), url: token}
    return save_config(data)


def forget(url: str) -> bool:
    """Remove the saved token of `url`; whether there was one."""
    data = load_config()
    tokens = data.get("tokens", {})
    if normalize_url(url) not in tokens:
        return False
    del tokens[normalize_url(url)]
    save_config(data)
    return True
