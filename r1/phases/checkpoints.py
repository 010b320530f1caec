"""Whether a checkpoint on disk is whole, and which is the newest whole one.

A run killed mid-write, a full disk or a copy cut short leaves a checkpoint that
Lightning would load halfway and then fail on. Resuming (:func:`r1.phases.common.resume_state`)
and the NaN guard (:mod:`r1.phases.guards`) both ask this module instead, which looks at
a file's structure without reading a tensor.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

FOLDER_CHECKPOINT_MARKERS = (".metadata", "latest")
"""Files a sharded checkpoint folder gets last: ``.metadata`` (torch.distributed.checkpoint, FSDP), ``latest`` (DeepSpeed)."""


def newest_intact_checkpoint(folder: Path, phase: str | None = None) -> Path | None:
    """The most recently written checkpoint in ``folder`` that is whole (:func:`checkpoint_problem`), or None.

    The newest, not always ``last.ckpt``: a run killed between writing ``step<N>.ckpt`` and
    refreshing ``last.ckpt`` has its latest state only in the former. With ``phase`` given,
    each newer checkpoint passed over is named in one line (``[phase] skipping ...``).
    """
    candidates = sorted(folder.glob("*.ckpt"), key=lambda path: path.stat().st_mtime_ns, reverse=True)
    for path in candidates:
        problem = checkpoint_problem(path)
        if problem is None:
            return path
        if phase is not None:
            print(f"[{phase}] skipping the damaged checkpoint {path} ({problem}); trying an older one", flush=True)
    return None


def is_intact_checkpoint(path: Path) -> bool:
    """Whether ``path`` is a whole checkpoint (:func:`checkpoint_problem` finds nothing wrong)."""
    return checkpoint_problem(path) is None


ZIP_LOCAL_HEADER = b"PK\x03\x04"
"""The signature each member of a zip file (and so of a ``torch.save`` file) starts with."""


def checkpoint_problem(path: Path) -> str | None:
    """What makes ``path`` unusable as a checkpoint, or None when it looks whole. Cheap: no tensor is read.

    A ``torch.save`` file is a zip archive: it must open (its closing directory was
    written), hold a ``data.pkl`` whose checksum matches, and have every member's header
    where the directory says, inside the file. A sharded checkpoint (a folder) must hold
    its final marker (:data:`FOLDER_CHECKPOINT_MARKERS`).
    """
    if path.is_dir():
        if any((path / marker).is_file() for marker in FOLDER_CHECKPOINT_MARKERS):
            return None
        return f"a sharded checkpoint folder without its final marker ({' or '.join(FOLDER_CHECKPOINT_MARKERS)}), so it was not written to the end"
    size = path.stat().st_size
    if size == 0:
        return "the file is empty"
    try:
        with zipfile.ZipFile(path) as archive, open(path, "rb") as raw:
            members = archive.infolist()
            pickles = [m for m in members if m.filename == "data.pkl" or m.filename.endswith("/data.pkl")]
            if not pickles:
                return "it is a zip file, but not one torch.save wrote"
            for member in members:
                raw.seek(member.header_offset)
                if member.header_offset + member.compress_size > size or raw.read(len(ZIP_LOCAL_HEADER)) != ZIP_LOCAL_HEADER:
                    return f"its member {member.filename} is cut off or overwritten"
            archive.read(pickles[0])  # checks the checksum of the pickled structure
    except zipfile.BadZipFile as error:
        return f"it is not a torch.save file, or was not written to the end ({error})"
    except (OSError, EOFError, ValueError) as error:
        return f"it cannot be read ({error})"
    return None
