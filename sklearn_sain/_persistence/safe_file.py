"""File handling of the safe format: atomic writes, integrity checks, the payload digest.

:mod:`sklearn_sain._persistence.safe_format` decides what a file holds; this module makes
sure that what is written is what is read back:

- a save goes to a temporary file next to the target, is flushed to disk and
  then renamed over the target, so a crash never leaves half a model under
  the target's name; the file gets the permissions a plain ``open`` would
  give it (the umask's, or those of the file it replaces), as ``torch.save``
  and ``joblib.dump`` do;
- a temporary file left by a save that was killed (SIGKILL, power loss) is
  named after its target, ``.<target>.<random>.sain-tmp``, and the next save
  of that target removes those older than an hour;
- a load checks the CRC of every zip member and a SHA-256 digest of the
  metadata and tensors, so a flipped bit or a truncated copy is refused as
  damaged instead of loading as a different model.
"""

from __future__ import annotations

import glob
import hashlib
import os
import stat
import tempfile
import time
import zipfile

import torch

_TEMPORARY_SUFFIX = ".sain-tmp"
_STALE_SECONDS = 3600
_ZIP_MAGIC = b"PK\x03\x04"


def payload_digest(metadata: str, tensors: dict) -> str:
    """SHA-256 of the metadata string and of every tensor's name, dtype, shape and bytes."""
    digest = hashlib.sha256(metadata.encode("utf-8"))
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        digest.update(f"\0{name}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode("utf-8"))
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


# ------------------------------------------------------------------- writing
def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _mode_for(path: str) -> int:
    """Permissions a plain ``open(path, "wb")`` would leave on ``path``."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)  # an existing file keeps its mode
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _remove_stale_temporaries(directory: str, base: str) -> None:
    pattern = os.path.join(glob.escape(directory), f".{glob.escape(base)}.*{_TEMPORARY_SUFFIX}")
    for leftover in glob.glob(pattern):
        try:
            if time.time() - os.stat(leftover).st_mtime > _STALE_SECONDS:
                os.remove(leftover)
        except OSError:
            pass  # another process's, or already gone


def write_atomically(path, write) -> None:
    """Call ``write(file)`` on a temporary file, then move it to ``path`` in one rename."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    _remove_stale_temporaries(directory, base)
    try:
        mode = _mode_for(path)
        handle, temporary = tempfile.mkstemp(prefix=f".{base}.", suffix=_TEMPORARY_SUFFIX,
                                             dir=directory)  # fmt: skip
    except OSError as exc:
        raise OSError(exc.errno, f"Cannot save to {path!r}: {exc.strerror}") from exc
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())  # the data is on disk before the name points to it
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException as exc:
        try:
            os.remove(temporary)
        except OSError:
            pass
        if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError):
            raise OSError(exc.errno, f"Cannot save to {path!r}: {exc.strerror}") from exc
        raise


# ------------------------------------------------------------------- reading
def check_archive(file, name: str) -> None:
    """Raise a ValueError unless ``file`` is a whole zip archive whose members pass their CRCs.

    A file that starts like a zip archive but is not a readable one is a
    damaged or truncated model file; anything else is not a model file at
    all, and the caller says so.
    """
    file.seek(0)
    starts_like_zip = file.read(len(_ZIP_MAGIC)) == _ZIP_MAGIC
    file.seek(0)
    if not zipfile.is_zipfile(file):
        file.seek(0)
        if starts_like_zip:
            raise ValueError(f"{name} is damaged or truncated: its zip directory is missing")
        raise NotAZipError
    file.seek(0)
    try:
        with zipfile.ZipFile(file) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ValueError(f"{name} is damaged or truncated ({exc})") from exc
    finally:
        file.seek(0)
    if bad is not None:
        raise ValueError(f"{name} is damaged or truncated: member {bad!r} fails its CRC check")


class NotAZipError(ValueError):
    """The file is not a zip archive at all (so not a file the safe format wrote)."""
