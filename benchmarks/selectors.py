"""Reads shared by pages and the API, so that they never disagree about what a user may get."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import Http404

from benchmarks.access import get_benchmark_for, get_split_for, get_task_for
from benchmarks.downloads import FORMATS, carries_labels, split_download_file


class DownloadUnavailable(Http404):
    """A split the user may see but not download in the format asked for. A 404, since there
    is no such file; its message says why, the same on pages and in the API."""


@dataclass(frozen=True)
class Download:
    content: bytes
    content_type: str
    filename: str
    includes_labels: bool


def split_download_for(user, *, slug: str, task: str, split: str, fmt: str) -> Download:
    """A split's download as `user` may have it: ids and inputs, and the labels of train and
    public splits. Raises Http404 for what the user may not see, DownloadUnavailable for a
    split whose inputs are not downloadable or a format that does not exist."""
    benchmark = get_benchmark_for(user, slug)
    split_obj = get_split_for(get_task_for(benchmark, task), split)
    if not split_obj.inputs_downloadable:
        raise DownloadUnavailable(f"The inputs of split '{split_obj.name}' are not downloadable.")
    if fmt not in FORMATS:
        raise DownloadUnavailable(f"Unknown format '{fmt}': use csv, jsonl or parquet.")
    content, content_type, filename = split_download_file(split_obj, fmt)
    return Download(content, content_type, filename, carries_labels(split_obj))
