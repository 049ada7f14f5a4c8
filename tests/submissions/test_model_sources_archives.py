"""Model submissions' intake (submissions/model_sources/): uploaded archives, good and hostile,
unpacked by archive_extract. Nothing here reaches the network, and no model is loaded: the files
are written by hand (tests/model_files.py)."""

from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from submissions.model_sources import (
    ModelFolder,
    ModelSourceError,
    archive_extract,
    model_folder_check,
)
from tests.model_files import (
    INFERENCE_FILES,
    MB,
    NO_CODE,
    PLAIN,
    listing,
    model_files_fixture,  # noqa: F401 - a fixture
    without,
)

# Archives ---------------------------------------------------------------------------------------


def zip_bytes(entries: list[tuple[str | zipfile.ZipInfo, bytes]]) -> bytes:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries:
            archive.writestr(name, content)
    return sink.getvalue()


def tar_bytes(entries: list[tuple[str | tarfile.TarInfo, bytes]], **options) -> bytes:
    sink = io.BytesIO()
    with tarfile.open(fileobj=sink, mode="w:gz", **options) as archive:
        for name, content in entries:
            info = name if isinstance(name, tarfile.TarInfo) else tarfile.TarInfo(name)
            if info.isreg():
                info.size = len(content)
                archive.addfile(info, io.BytesIO(content))
            else:
                archive.addfile(info)
    return sink.getvalue()


def extract(data: bytes, name: str, dest: Path, **policy) -> Path:
    policy = {"allow_custom_code": False, "allow_pickle_weights": False, **policy}
    return archive_extract(fileobj=io.BytesIO(data), filename=name, dest=dest, **policy)


def refused(data: bytes, name: str, dest: Path, **policy) -> list[str]:
    """The messages an archive is refused with, after checking that it left nothing behind."""
    dest.mkdir(exist_ok=True)
    with pytest.raises(ModelSourceError) as caught:
        extract(data, name, dest, **policy)
    assert list(dest.iterdir()) == []
    return caught.value.messages


@pytest.fixture
def dest(tmp_path, settings) -> Path:
    return tmp_path / "unpacked"


def test_a_zip_with_the_files_at_its_root(model_files, dest):
    data = zip_bytes(list(model_files.items()))
    upload = SimpleUploadedFile("tiny.zip", data)

    folder = archive_extract(
        fileobj=upload,
        filename=upload.name,
        dest=dest,
        allow_custom_code=False,
        allow_pickle_weights=False,
    )

    assert folder == dest
    assert listing(folder) == INFERENCE_FILES
    assert (folder / "model.safetensors").read_bytes() == model_files["model.safetensors"]
    checked = model_folder_check(folder=folder, allow_custom_code=False, allow_pickle_weights=False)
    assert checked == ModelFolder(
        path=folder,
        files=tuple(INFERENCE_FILES),
        total_bytes=sum(len(c) for c in model_files.values()),
        weight_files=("model.safetensors",),
        model_type="bert",
        has_predict_py=False,
        needs_remote_code=False,
    )


def test_a_zip_with_the_files_in_one_top_folder(model_files, dest):
    entries = [("my-model/", b"")] + [(f"my-model/{n}", c) for n, c in model_files.items()]
    # What macOS adds beside them is skipped.
    entries += [("__MACOSX/my-model/._config.json", b"x"), ("my-model/.DS_Store", b"x")]

    folder = extract(zip_bytes(entries), "my-model.zip", dest)

    assert folder == dest / "my-model"
    assert listing(dest) == ["my-model"] + [f"my-model/{n}" for n in INFERENCE_FILES]


def test_a_tar_gz_with_the_files_in_one_top_folder(model_files, dest):
    folder_entry = tarfile.TarInfo("./model")
    folder_entry.type = tarfile.DIRTYPE
    entries = [(folder_entry, b"")] + [(f"./model/{n}", c) for n, c in model_files.items()]

    folder = extract(tar_bytes(entries), "model.tgz", dest)

    assert folder == dest / "model"
    assert listing(folder) == INFERENCE_FILES
    assert (folder / "config.json").read_bytes() == model_files["config.json"]


def test_a_tar_gz_with_the_files_at_its_root(model_files, dest):
    folder = extract(tar_bytes(list(model_files.items())), "Model.TAR.GZ", dest)
    assert folder == dest


def test_names_outside_the_folder_are_refused(model_files, dest):
    outside = (
        "Entry '{}' would be written outside the model folder (an absolute path or '..'): "
        "archive the folder's files under relative names."
    )
    for name in ("../x", "model/../../x", "/etc/cron.d/x", "..\\x", "C:/x"):
        entries = [*model_files.items(), (name, b"x")]
        assert refused(zip_bytes(entries), "m.zip", dest) == [outside.format(name)]
        assert refused(tar_bytes(entries), "m.tar.gz", dest) == [outside.format(name)]


def test_links_are_refused(model_files, dest):
    link = zipfile.ZipInfo("link")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    data = zip_bytes([*model_files.items(), (link, b"/etc/passwd")])
    assert refused(data, "m.zip", dest) == [f"Entry 'link' is a symbolic link; {PLAIN}."]

    symlink = tarfile.TarInfo("link")
    symlink.type, symlink.linkname = tarfile.SYMTYPE, "/etc/passwd"
    data = tar_bytes([(symlink, b""), *model_files.items()])
    assert refused(data, "m.tar.gz", dest) == [f"Entry 'link' is a symbolic link; {PLAIN}."]

    hardlink = tarfile.TarInfo("hard")
    hardlink.type, hardlink.linkname = tarfile.LNKTYPE, "config.json"
    data = tar_bytes([*model_files.items(), (hardlink, b"")])
    assert refused(data, "m.tar.gz", dest) == [f"Entry 'hard' is a hard link; {PLAIN}."]


def test_devices_and_pipes_are_refused(model_files, dest):
    for kind in (tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE):
        device = tarfile.TarInfo("dev")
        device.type = kind
        data = tar_bytes([*model_files.items(), (device, b"")])
        assert refused(data, "m.tar.gz", dest) == [f"Entry 'dev' is a device or a pipe; {PLAIN}."]

    fifo = zipfile.ZipInfo("fifo")
    fifo.create_system = 3
    fifo.external_attr = (stat.S_IFIFO | 0o644) << 16
    data = zip_bytes([*model_files.items(), (fifo, b"")])
    assert refused(data, "m.zip", dest) == [f"Entry 'fifo' is a device, pipe or socket; {PLAIN}."]


def set_zip_directory_field(data: bytes, offset: int, value: bytes) -> bytes:
    """Overwrite a field of every central directory entry (offset from its signature)."""
    out = bytearray(data)
    at = out.find(b"PK\x01\x02")
    while at != -1:
        out[at + offset : at + offset + len(value)] = value
        at = out.find(b"PK\x01\x02", at + 1)
    return bytes(out)


def test_encrypted_and_bzip2_zip_entries_are_refused(model_files, dest):
    data = set_zip_directory_field(zip_bytes([("secret.txt", b"x")]), 8, b"\x01\x00")
    assert refused(data, "m.zip", dest) == [
        "Entry 'secret.txt' is encrypted: archive the model without a password."
    ]
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_BZIP2) as archive:
        archive.writestr("config.json", b"{}")
    assert refused(sink.getvalue(), "m.zip", dest) == [
        "Entry 'config.json' is compressed with bzip2: zip the model with deflate (what zip "
        "tools write by default) or store it uncompressed."
    ]


def test_too_many_entries_are_refused(model_files, settings, dest):
    settings.MAX_MODEL_FILES = 8
    entries = [*model_files.items(), *((f"extra/{i}.txt", b"x") for i in range(3))]
    message = "The archive holds more than 8 entries; a model archive may hold at most 8."
    assert refused(zip_bytes(entries), "m.zip", dest) == [message]
    assert refused(tar_bytes(entries), "m.tar.gz", dest) == [message]


def test_a_declared_size_over_the_cap_is_refused_before_unpacking(model_files, dest):
    # Two entries of a few bytes whose directory claims 4 GiB each: refused from the directory
    # at the default cap, without inflating anything.
    data = zip_bytes([("config.json", b"{}"), ("model.safetensors", b"x")])
    data = set_zip_directory_field(data, 24, (0xFFFFFFF0).to_bytes(4, "little"))
    assert refused(data, "m.zip", dest) == [
        "The archive's files unpack to 8,192 MB in all; a model may hold at most 4,096 MB."
    ]


def test_a_tar_over_the_size_cap_stops_there(model_files, settings, dest):
    settings.MAX_MODEL_DECODED_MB = 1
    big = bytes(700_000)
    entries = [*model_files.items(), ("a.bin", big), ("b.bin", big)]
    assert refused(tar_bytes(entries), "m.tar.gz", dest, allow_pickle_weights=True) == [
        "The archive's files unpack to more than 1.0 MB; a model may hold at most 1.0 MB."
    ]
    assert refused(zip_bytes(entries), "m.zip", dest, allow_pickle_weights=True) == [
        "The archive's files unpack to 1.3 MB in all; a model may hold at most 1.0 MB."
    ]


def test_an_upload_over_the_archive_cap_is_refused(model_files, settings, dest):
    settings.MAX_MODEL_ARCHIVE_MB = 1
    data = zipfile_stored([*model_files.items(), ("blob.safetensors", bytes(MB))])
    assert refused(data, "m.zip", dest) == [
        "'m.zip' is 1.0 MB; a model archive may be at most 1.0 MB."
    ]


def zipfile_stored(entries) -> bytes:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED) as archive:
        for name, content in entries:
            archive.writestr(name, content)
    return sink.getvalue()


def test_a_huge_tar_header_extension_is_refused(model_files, dest):
    info = tarfile.TarInfo("config.json")
    info.pax_headers = {"comment": "x" * (2 * MB)}
    data = tar_bytes([(info, b"{}")], format=tarfile.PAX_FORMAT)
    assert refused(data, "m.tar.gz", dest) == [
        "The archive holds a tar header extension (a long name or pax attributes) too large or "
        "too many: archive the model with a usual tar tool."
    ]


def test_files_in_several_top_folders_are_refused(model_files, dest):
    entries = [(f"a/{n}", c) for n, c in model_files.items()] + [("b/notes.txt", b"x")]
    message = (
        "The archive's files are in several top folders (a, b): put the model's files at the "
        "root of the archive, or in one folder."
    )
    assert refused(zip_bytes(entries), "m.zip", dest) == [message]
    assert refused(tar_bytes(entries), "m.tar.gz", dest) == [message]


def test_what_is_not_an_archive_is_refused(model_files, dest):
    assert refused(b"Rar!\x1a\x07\x00", "model.rar", dest) == [
        "'model.rar' is not a model archive: upload the model folder as a .zip or a .tar.gz "
        "(.tgz), or give a Hub model id."
    ]
    assert refused(b"just some text", "model.zip", dest) == [
        "'model.zip' is not a zip archive: its content does not start as a zip file's does."
    ]
    assert refused(zip_bytes(list(model_files.items())), "model.tar.gz", dest) == [
        "'model.tar.gz' is not a .tar.gz archive: its content is not gzip-compressed."
    ]
    cut = zip_bytes(list(model_files.items()))[:-30]
    assert refused(cut, "model.zip", dest) == [
        "'model.zip' could not be read as a zip archive: it is damaged or cut short."
    ]
    cut = tar_bytes(list(model_files.items()))[:300]
    assert refused(cut, "model.tgz", dest) == [
        "'model.tgz' could not be read as a .tar.gz archive: it is damaged or cut short."
    ]


def test_an_archive_without_config_json_is_refused(model_files, dest):
    entries = list(without(model_files, "config.json").items())
    message = (
        "No config.json at the root of the archive or of its single top folder: archive the "
        "folder that save_pretrained() wrote."
    )
    assert refused(zip_bytes(entries), "m.zip", dest) == [message]
    assert refused(tar_bytes(entries), "m.tar.gz", dest) == [message]
    # Zipped one level too deep: the message says where it is.
    nested = [(f"out/checkpoint/{n}", c) for n, c in model_files.items()]
    assert refused(zip_bytes(nested), "m.zip", dest) == [
        "No config.json at the root of the archive or of its single top folder (there is one at "
        "'out/checkpoint/config.json'): archive the folder that save_pretrained() wrote."
    ]
    assert refused(zip_bytes([]), "m.zip", dest) == ["The archive holds no files."]


def test_an_archive_follows_the_pickle_policy(model_files, dest):
    files = {**without(model_files, "model.safetensors"), "pytorch_model.bin": b"pickle"}
    entries = list(files.items())
    message = (
        "This benchmark does not allow pickle weights (pytorch_model.bin): pickle files can run "
        "code when they are loaded. Save the weights as safetensors (save_pretrained does by "
        "default) and leave these files out."
    )
    assert refused(zip_bytes(entries), "m.zip", dest) == [message]
    assert refused(tar_bytes(entries), "m.tar.gz", dest) == [message]

    folder = extract(tar_bytes(entries), "m.tar.gz", dest, allow_pickle_weights=True)
    checked = model_folder_check(folder=folder, allow_custom_code=False, allow_pickle_weights=True)
    assert checked.weight_files == ("pytorch_model.bin",)


def test_an_archive_follows_the_custom_code_policy(model_files, tmp_path):
    entries = [*model_files.items(), ("predict.py", b"def predict(rows): ...\n")]
    message = (
        NO_CODE + "the model holds code: predict.py. Leave these files out: the model must load "
        "with transformers' own classes."
    )
    assert refused(zip_bytes(entries), "m.zip", tmp_path / "a") == [message]
    assert refused(tar_bytes(entries), "m.tar.gz", tmp_path / "b") == [message]

    folder = extract(zip_bytes(entries), "m.zip", tmp_path / "c", allow_custom_code=True)
    checked = model_folder_check(folder=folder, allow_custom_code=True, allow_pickle_weights=False)
    assert checked.has_predict_py is True
    assert checked.needs_remote_code is False


def test_a_destination_made_for_the_archive_is_removed_when_refused(model_files, tmp_path):
    dest = tmp_path / "new" / "folder"
    with pytest.raises(ModelSourceError):
        extract(zip_bytes([("a/config.json", b"{}"), ("b/x", b"")]), "m.zip", dest)
    assert not dest.exists()
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file").write_bytes(b"")
    with pytest.raises(ValueError):
        extract(zip_bytes(list(model_files.items())), "m.zip", tmp_path / "busy")


def test_an_entry_clashing_with_a_folder_is_refused(model_files, dest):
    entries = [*model_files.items(), ("extra", b"a file"), ("extra/inner.txt", b"x")]
    assert refused(tar_bytes(entries), "m.tar.gz", dest) == [
        "Entry 'extra/inner.txt' clashes with another entry: a file and a folder of the same "
        "name, or the same file twice."
    ]
    with pytest.warns(UserWarning, match="Duplicate name"):
        data = zip_bytes([*model_files.items(), ("vocab.txt", b"again")])
    assert refused(data, "m.zip", dest) == ["Entry 'vocab.txt' appears twice."]
