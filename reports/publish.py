"""Put a set of report files into a folder so that it holds the whole new set, the whole
previous set, or (when the swap itself fails) none of it: never a mix that looks complete.

Every file is first written and synced in a staging folder beside the outputs; a failure
there leaves the previous outputs as they were. Then the marker file (report.html, whose
presence says "complete") is removed, the other files are renamed into place, stale charts
are removed, and the marker is renamed in last. A failure during the swap removes every
output, marker first.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path

from contract import runfolder

# Renames go through this name so a test can make one fail.
_move = os.replace
CHARTS_DIR = runfolder.CHARTS


def _stage(staging: Path, files: Mapping[str, bytes]) -> None:
    for name, data in files.items():
        path = staging / name
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def _remove(folder: Path, names: list[str]) -> None:
    for name in names:
        (folder / name).unlink(missing_ok=True)


def publish(folder: Path, files: Mapping[str, bytes], marker: str) -> tuple[Path, ...]:
    """Write `files` (relative path -> bytes; `marker` among them) into `folder` as one set.

    Files under charts/ that the new set does not have are removed with the old set. Raises
    OSError when a file cannot be written, after cleaning up as described above.
    """
    if marker not in files:
        raise ValueError(f"the marker {marker} is not among the files")
    staging = Path(tempfile.mkdtemp(dir=folder, prefix=".report-staging-"))
    try:
        _stage(staging, files)
        others = [name for name in files if name != marker]
        _remove(folder, [marker])
        try:
            for name in others:
                (folder / name).parent.mkdir(parents=True, exist_ok=True)
                _move(staging / name, folder / name)
            charts = folder / CHARTS_DIR
            keep = {name for name in files if name.startswith(f"{CHARTS_DIR}/")}
            for stale in charts.glob("*.png") if charts.is_dir() else ():
                if f"{CHARTS_DIR}/{stale.name}" not in keep:
                    stale.unlink()
            _move(staging / marker, folder / marker)
        except BaseException:
            _remove(folder, [marker, *others])
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return tuple(folder / name for name in [*others, marker])
