"""Finding a dataset's files in a folder the user names, or in one below it."""

import os
from pathlib import Path


def find_data_folder(root, needed):
    """The folder at or below ``root`` closest to it that holds every file in ``needed``.

    Breadth-first, so the copy closest to ``root`` wins; links to folders are
    not followed (keeps the walk finite) and unreadable folders are skipped,
    as ``find`` does. Returns None when no folder qualifies.
    """
    level = [Path(root)] if Path(root).is_dir() else []
    while level:
        for folder in level:
            if all((folder / name).is_file() for name in needed):
                return folder
        below = []
        for folder in level:
            try:
                entries = sorted(os.scandir(folder), key=lambda e: e.name)
            except OSError:
                continue
            below += [Path(e.path) for e in entries if e.is_dir(follow_symlinks=False)]
        level = below
    return None
