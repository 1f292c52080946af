"""The bundled model folder and its manifest.json: where it is, what the manifest holds, and
the sha256 every model file is checked against (airken.core.weights resolves the model).

Manifest format (``manifest.json``, written by the training pipeline via `write_manifest`)::

    {
      "format": 1,
      "filename": "airken.tflite",          # bundled file, next to the manifest
      "sha256": "<64 hex>",                 # of the bundled file
      "size": 4321,                         # bytes, informational
      "hub": {                              # optional: where newer weights live
        "repo_id": "owner/airken",
        "revision": "<40-hex commit>",      # pin; a commit hash lets a warm cache skip the network
        "filename": "airken.tflite",        # optional, defaults to the top-level filename
        "sha256": "<64 hex>"                # optional, defaults to the top-level sha256
      },
      ...                                   # other keys are kept and ignored here
    }
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from airken import settings

PACKAGE_MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
MANIFEST_NAME = "manifest.json"
DEFAULT_FILENAME = "airken.tflite"

_SHA256 = re.compile(r"[0-9a-f]{64}")


def sha256_file(path: str | os.PathLike[str], chunk_size: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks so a large file never sits in memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def default_bundled_dir() -> Path:
    """``AIRKEN_BUNDLED_DIR`` if set, else the package's own models folder."""
    return settings.current().bundled_dir or PACKAGE_MODELS_DIR


def read_manifest(directory: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The parsed manifest in `directory`, or {} when there is none.

    Raises ValueError when the file exists but does not follow the format above.
    """
    path = Path(directory if directory is not None else default_bundled_dir()) / MANIFEST_NAME
    if not path.is_file():
        return {}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path} is not readable JSON: {e}") from e
    _validate_manifest(manifest, path)
    return manifest


def _validate_manifest(manifest: Any, path: Path) -> None:
    def bad(why: str) -> ValueError:
        return ValueError(f"{path}: {why}")

    if not isinstance(manifest, dict):
        raise bad("expected a JSON object")
    if not isinstance(manifest.get("filename"), str) or not manifest["filename"]:
        raise bad('"filename" must be a non-empty string')
    if not is_sha256(manifest.get("sha256")):
        raise bad('"sha256" must be 64 lowercase hex digits')
    hub = manifest.get("hub")
    if hub is None:
        return
    if not isinstance(hub, dict) or not isinstance(hub.get("repo_id"), str) or not hub["repo_id"]:
        raise bad('"hub" must be an object with a "repo_id"')
    if "sha256" in hub and not is_sha256(hub["sha256"]):
        raise bad('"hub.sha256" must be 64 lowercase hex digits')
    for key in ("revision", "filename"):
        if key in hub and not isinstance(hub[key], str):
            raise bad(f'"hub.{key}" must be a string')


def is_sha256(value: Any) -> bool:
    """64 lowercase hex digits."""
    return isinstance(value, str) and _SHA256.fullmatch(value) is not None


def write_manifest(
    directory: str | os.PathLike[str],
    filename: str = DEFAULT_FILENAME,
    *,
    repo_id: str | None = None,
    revision: str | None = None,
    hub_sha256: str | None = None,
    hub_filename: str | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``manifest.json`` for the model file `directory/filename` and return its path.

    `hub_sha256` defaults to the bundled file's sha256 (the usual case: the same file was
    pushed to the Hub at `revision`, as `hub_filename`, by default `filename`).
    """
    directory = Path(directory)
    model = directory / filename
    digest = sha256_file(model)
    manifest: dict[str, Any] = {"format": 1, **(extra or {}), "filename": filename, "sha256": digest}
    manifest["size"] = model.stat().st_size
    if repo_id:
        hub: dict[str, Any] = {"repo_id": repo_id, "revision": revision or "main",
                               "filename": hub_filename or filename}
        hub["sha256"] = hub_sha256 or digest
        manifest["hub"] = hub
    path = directory / MANIFEST_NAME
    _validate_manifest(manifest, path)
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return path
