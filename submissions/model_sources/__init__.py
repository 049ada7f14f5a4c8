"""Model submissions as the platform takes them in (docs/formats.md, "Model submissions: what is
accepted"): a Hub reference resolved to a commit and fetched into the Hub cache, or an uploaded
archive unpacked within limits; either way the result is a folder checked by its names and its
JSON configs alone.

The trusted side never loads a participant's files: nothing here unpickles, imports or runs
anything (the sandboxed run does that later). Messages quote the participant's own names (repo
id, revision, names inside the model) and never a path of the server.

- `hub_resolve`: a branch, tag or sha of a Hub model → its commit sha (asked of the Hub; offline,
  read from the cache's refs/).
- `hub_fetch`: the files inference needs at that commit, downloaded into the Hub cache
  (MODEL_HUB_CACHE, keyed by commit), then laid out as a per-policy folder of hard links (or
  copies) under MODEL_FILES_DIR: the cache is shared by every benchmark, so its snapshot folder
  may hold files that another policy fetched (code, pickle weights) which this one must not see.
- `archive_extract`: a .zip or .tar.gz, checked entry by entry (names, kinds, counts, sizes)
  before or while it is written, with bounded memory; a refused archive leaves nothing behind.
- `model_folder_check`: config.json, weights, the benchmark's code and pickle policy.

The package's modules: `errors` (ModelSourceError, HubUnreachable, how names are quoted),
`folders` (what a model folder holds, `model_folder_check`), `hub` (`hub_resolve`,
`hub_fetch`, `hub_allow_patterns`), `archives` (`archive_extract`, the zip and tar readers).
"""

from submissions.model_sources.archives import archive_extract
from submissions.model_sources.errors import HubUnreachable, ModelSourceError
from submissions.model_sources.folders import ModelFolder, model_folder_check
from submissions.model_sources.hub import hub_allow_patterns, hub_fetch, hub_resolve

__all__ = [
    "HubUnreachable",
    "ModelFolder",
    "ModelSourceError",
    "archive_extract",
    "hub_allow_patterns",
    "hub_fetch",
    "hub_resolve",
    "model_folder_check",
]
