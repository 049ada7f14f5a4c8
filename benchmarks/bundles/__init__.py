"""Benchmark bundles (docs/formats.md): `benchmark.yaml` plus data files, as a folder or a zip.

`bundle_open` gives the bundle's folder, `bundle_load` validates it and freezes every split into
canonical Parquet; the database side lives in `benchmarks.services`.
"""

from benchmarks.bundles.errors import BundleError
from benchmarks.bundles.files import table_read
from benchmarks.bundles.limits import BundleLimits, bundle_limits
from benchmarks.bundles.loader import Bundle, bundle_load, bundle_open, spec_yaml
from benchmarks.bundles.spec import policy_check, spec_check, spec_validate, task_fields_check
from benchmarks.bundles.splits import split_file_freeze, stored_splits_check
from benchmarks.bundles.tables import FrozenSplit, fingerprint, parquet_bytes
from benchmarks.bundles.yamltext import SPEC_FILENAME, spec_read, yaml_parse

__all__ = [
    "SPEC_FILENAME",
    "Bundle",
    "BundleError",
    "BundleLimits",
    "FrozenSplit",
    "bundle_limits",
    "bundle_load",
    "bundle_open",
    "fingerprint",
    "parquet_bytes",
    "policy_check",
    "spec_check",
    "spec_read",
    "spec_validate",
    "spec_yaml",
    "split_file_freeze",
    "stored_splits_check",
    "table_read",
    "task_fields_check",
    "yaml_parse",
]
