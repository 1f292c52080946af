"""Where the model weights come from.

`resolve_model()` picks one model file, in this order:

1. ``AIRKEN_MODEL_PATH``: an explicit local file. A missing file is an error, never a
   silent fall-back to some other model.
2. The Hugging Face Hub: repo ``AIRKEN_HF_REPO``, revision ``AIRKEN_HF_REVISION`` and file
   ``AIRKEN_HF_FILENAME``, each defaulting to the pin in ``airken/models/manifest.json``.
   ``AIRKEN_HUB=0`` skips this step.
3. The copy bundled in ``airken/models/`` (or ``AIRKEN_BUNDLED_DIR``).

Every file is checked against a sha256 before it is used. The pinned default is always
checked, against the manifest. When the environment points elsewhere (another repo,
revision or file name) the expected sha256 comes from ``AIRKEN_MODEL_SHA256``; without it
the file is accepted, its sha256 is logged and the result says ``verified=False``.
A downloaded or cached file that fails the check is deleted from the cache and never used.

No network must never mean a stall. With ``HF_HUB_OFFLINE=1`` only the local Hub cache is
looked at. Otherwise the endpoint is first probed with a TCP connect, the metadata request
gets ``AIRKEN_HUB_TIMEOUT`` seconds (default 2) with no retries, and the download runs in
a worker thread that is abandoned after ``AIRKEN_HUB_DEADLINE`` seconds (default 30).
huggingface_hub retries timeouts and 5xx answers with back-off on its own, which is why
the bound lives out here rather than in its settings. Being offline (``HF_HUB_OFFLINE=1``,
or no connection to the endpoint) is a normal state, logged at INFO; a Hub that answers
but fails logs a warning with the reason. Either way the bundled copy is used.

The bundled folder and its manifest.json are airken.core.manifest's.
"""
from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from airken import settings
from airken.core.manifest import (
    DEFAULT_FILENAME,
    MANIFEST_NAME,
    default_bundled_dir,
    is_sha256,
    read_manifest,
    sha256_file,
)

log = logging.getLogger("airken.core.weights")

_COMMIT = re.compile(r"[0-9a-f]{40}")
_LFS_POINTER = b"version https://git-lfs"


class ModelUnavailable(RuntimeError):
    """No usable model file; the message says what to do about it."""


@dataclass(frozen=True)
class ModelSource:
    path: Path
    source: str  # "local" | "hub" | "bundled"
    repo_id: str | None
    revision: str | None  # for the Hub: the commit the file was resolved to
    sha256: str
    filename: str
    verified: bool = True  # False: no expected sha256 was known, the file was taken as is

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description. The local path is left out: it is no business of API callers."""
        return {
            "source": self.source,
            "repo_id": self.repo_id,
            "revision": self.revision,
            "sha256": self.sha256,
            "filename": self.filename,
            "verified": self.verified,
        }


# ---------------------------------------------------------------------------- resolve


def resolve_model(*, bundled_dir: str | os.PathLike[str] | None = None, hub: bool = True) -> ModelSource:
    """Pick the model file: explicit path, then the Hub (unless hub=False), then the bundled
    copy (see module doc).

    Raises ModelUnavailable (a RuntimeError) with a message saying what to do when no
    usable file is found.
    """
    explicit = settings.current().model_path
    if explicit:
        return _log_choice(_from_explicit_path(explicit))

    directory = Path(bundled_dir).expanduser() if bundled_dir is not None else default_bundled_dir()
    try:
        manifest = read_manifest(directory)
    except ValueError as e:
        raise ModelUnavailable(
            f"The model manifest is broken ({e}). Reinstall airken, or set AIRKEN_MODEL_PATH to a model file."
        ) from e

    pin = _hub_settings(manifest) if hub else None
    if pin is not None:
        found = _from_hub(pin)
        if found is not None:
            return _log_choice(found)
    return _log_choice(_from_bundled(directory, manifest))


def cannot_run(src: ModelSource, why: str) -> ModelUnavailable:
    """The error for a file that passed every check here but that LiteRT cannot run: as for
    a missing file, it says what to do (a Hub file gets the bundled copy instead: predictor)."""
    if src.source == "local":
        return ModelUnavailable(
            f"AIRKEN_MODEL_PATH={str(src.path)!r} is not a model LiteRT can run ({why}). Point it at a .tflite "
            "model, or unset it to use the Hub or the bundled model."
        )
    if src.source == "bundled":
        return ModelUnavailable(
            f"The bundled model {src.path} cannot be run ({why}). Reinstall airken (from a clone: "
            "`git lfs pull`), or set AIRKEN_MODEL_PATH to a .tflite model file."
        )
    return ModelUnavailable(f"The Hub model {src.repo_id}@{src.revision} cannot be run ({why}).")


def _log_choice(src: ModelSource) -> ModelSource:
    where = f"{src.repo_id}@{src.revision}" if src.source == "hub" else str(src.path)
    check = "verified" if src.verified else "NOT verified (no expected sha256)"
    log.info("model: %s %s file=%s sha256=%s (%s)", src.source, where, src.filename, src.sha256, check)
    return src


def _from_explicit_path(path: Path) -> ModelSource:
    value = str(path)
    if not path.is_file():
        raise ModelUnavailable(
            f"AIRKEN_MODEL_PATH={value!r} is not a file. Point it at a .tflite model, "
            "or unset it to use the Hub or the bundled model."
        )
    digest = sha256_file(path)
    expected = _expected_sha256()
    if expected and digest != expected:
        raise ModelUnavailable(
            f"AIRKEN_MODEL_PATH={value!r} has sha256 {digest}, but AIRKEN_MODEL_SHA256 says {expected}. "
            "Fix the file or the checksum."
        )
    return ModelSource(path.resolve(), "local", None, None, digest, path.name, verified=bool(expected))


def _from_bundled(directory: Path, manifest: dict[str, Any]) -> ModelSource:
    if not manifest:
        raise ModelUnavailable(
            f"No bundled model: {directory / MANIFEST_NAME} is missing. Reinstall airken (from a clone: "
            "`git lfs pull`), or set AIRKEN_MODEL_PATH to a .tflite model file."
        )
    filename = manifest["filename"]
    path = directory / filename
    if not path.is_file():
        raise ModelUnavailable(
            f"The bundled model {path} is missing. Reinstall airken (from a clone: `git lfs pull`), "
            "or set AIRKEN_MODEL_PATH to a .tflite model file."
        )
    digest = sha256_file(path)
    if digest != manifest["sha256"]:
        with open(path, "rb") as f:
            pointer = f.read(len(_LFS_POINTER)) == _LFS_POINTER
        what = "a Git LFS pointer, not the model: run `git lfs pull`" if pointer else "corrupt: reinstall airken"
        raise ModelUnavailable(
            f"The bundled model {path} is {what} (sha256 {digest}, manifest expects {manifest['sha256']}). "
            "Or set AIRKEN_MODEL_PATH to a .tflite model file."
        )
    return ModelSource(path, "bundled", None, None, digest, filename)


# ---------------------------------------------------------------------------- Hub


@dataclass(frozen=True)
class _HubSettings:
    repo_id: str
    revision: str
    filename: str
    expected_sha256: str | None  # None: accept and log (only when the env overrides the pin)
    endpoint: str
    cache_dir: str
    offline: bool
    timeout: float
    deadline: float

    @property
    def label(self) -> str:
        return f"{self.repo_id}@{self.revision}/{self.filename}"


def _hub_settings(manifest: dict[str, Any]) -> _HubSettings | None:
    env = settings.current()
    if not env.hub:
        log.info("Hub step disabled (AIRKEN_HUB=0)")
        return None
    hub = manifest.get("hub") or {}
    pinned_file = hub.get("filename") or manifest.get("filename") or DEFAULT_FILENAME
    pin = (hub.get("repo_id"), hub.get("revision") or "main", pinned_file)
    repo_id = env.hf_repo or pin[0]
    if not repo_id:
        log.debug("no Hub repo configured (manifest has no hub.repo_id, AIRKEN_HF_REPO unset)")
        return None
    revision = env.hf_revision or pin[1]
    filename = env.hf_filename or pin[2]
    expected = _expected_sha256()
    if expected is None and (repo_id, revision, filename) == pin:
        expected = hub.get("sha256") or manifest["sha256"]

    from huggingface_hub import constants

    return _HubSettings(
        repo_id=repo_id,
        revision=revision,
        filename=filename,
        expected_sha256=expected,
        endpoint=(os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/"),
        cache_dir=_hub_cache_dir(constants.HF_HUB_CACHE),
        offline=settings.flag("HF_HUB_OFFLINE") or constants.is_offline_mode(),
        timeout=env.hub_timeout_s,
        deadline=env.hub_deadline_s,
    )


def _from_hub(cfg: _HubSettings) -> ModelSource | None:
    # A commit hash names immutable content: a verified cached copy needs no network at all.
    cache_checked = cfg.offline or _COMMIT.fullmatch(cfg.revision) is not None
    if cache_checked:
        found = _from_cache(cfg)
        if found is not None or cfg.offline:
            if found is None:
                log.info("offline (HF_HUB_OFFLINE): no verified cached copy of %s", cfg.label)
            return found
    try:
        _probe(cfg.endpoint, cfg.timeout)
    except ConnectionError as e:  # no network is a normal state, not a fault: said with -v only
        log.info("Hub %s not reachable, working offline (%s)", cfg.label, _first_line(e))
        return None if cache_checked else _from_cache(cfg)
    try:
        _head(cfg)
        path = _download(cfg)
    except Exception as e:  # any Hub failure means: use what we have locally
        log.warning("Hub %s unavailable (%s: %s); falling back", cfg.label, type(e).__name__, _first_line(e))
        log.debug("Hub failure details", exc_info=True)
        return None if cache_checked else _from_cache(cfg)
    return _checked(cfg, path, "downloaded")


def _from_cache(cfg: _HubSettings) -> ModelSource | None:
    from huggingface_hub import try_to_load_from_cache

    try:
        cached = try_to_load_from_cache(cfg.repo_id, cfg.filename, cache_dir=cfg.cache_dir, revision=cfg.revision)
    except Exception as e:  # e.g. an invalid repo id: nothing usable in the cache
        log.warning("cannot look up %s in the Hub cache: %s", cfg.label, _first_line(e))
        return None
    return _checked(cfg, Path(cached), "cached") if isinstance(cached, str) else None


def _checked(cfg: _HubSettings, path: Path, how: str) -> ModelSource | None:
    """A ModelSource for a Hub file that passed the sha256 check; a failing file is discarded."""
    try:
        digest = sha256_file(path)
    except OSError as e:  # e.g. a snapshot link whose blob is gone
        log.warning("%s copy of %s is unreadable: %s", how, cfg.label, e)
        return None
    if cfg.expected_sha256 and digest != cfg.expected_sha256:
        log.warning(
            "%s copy of %s has sha256 %s, expected %s: discarding it", how, cfg.label, digest, cfg.expected_sha256
        )
        _discard(path)
        return None
    if not cfg.expected_sha256:
        log.warning("%s is not verified (no pinned sha256; set AIRKEN_MODEL_SHA256): sha256=%s", cfg.label, digest)
    commit = _snapshot_commit(path) or cfg.revision
    return ModelSource(path, "hub", cfg.repo_id, commit, digest, cfg.filename, verified=bool(cfg.expected_sha256))


def _snapshot_commit(path: Path) -> str | None:
    """The commit folder of a cache path .../snapshots/<commit>/<filename>."""
    parts = path.parts
    if "snapshots" in parts[:-1]:
        commit = parts[parts.index("snapshots") + 1]
        return commit if _COMMIT.fullmatch(commit) else None
    return None


def _discard(path: Path) -> None:
    """Delete a cache entry: the snapshot link and the blob it points at."""
    blob = path.resolve()
    try:
        path.unlink(missing_ok=True)
        if blob != path:
            blob.unlink(missing_ok=True)
    except OSError as e:  # read-only cache: it stays, but it is checked (and refused) every time
        log.warning("could not delete %s: %s", path, e)


def _probe(endpoint: str, timeout: float) -> None:
    """TCP connect to the endpoint (or its proxy): fails fast when there is no network."""
    url = urlsplit(endpoint)
    host, port = url.hostname or "", url.port or (443 if url.scheme == "https" else 80)
    proxy = urllib.request.getproxies().get(url.scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        target = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        host, port = target.hostname or "", target.port or 80
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as e:
        raise ConnectionError(f"cannot reach {host}:{port} within {timeout:g} s ({e})") from e


def _head(cfg: _HubSettings) -> None:
    """One metadata request with a short timeout and no retries, so errors surface at once."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url

    url = hf_hub_url(cfg.repo_id, cfg.filename, revision=cfg.revision, endpoint=cfg.endpoint)
    meta = get_hf_file_metadata(url, timeout=cfg.timeout, endpoint=cfg.endpoint)
    if meta.commit_hash is None or meta.etag is None:
        raise ConnectionError(f"{cfg.endpoint} does not answer like a Hugging Face Hub endpoint")


def _download(cfg: _HubSettings) -> Path:
    """hf_hub_download in a daemon thread, given up on after cfg.deadline seconds."""
    from huggingface_hub import hf_hub_download

    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["path"] = hf_hub_download(
                cfg.repo_id,
                cfg.filename,
                revision=cfg.revision,
                cache_dir=cfg.cache_dir,
                endpoint=cfg.endpoint,
                etag_timeout=cfg.timeout,
            )
        except BaseException as e:  # handed to the caller's thread
            outcome["error"] = e

    started = time.monotonic()
    worker = threading.Thread(target=work, name="airken-hub-download", daemon=True)
    worker.start()
    worker.join(cfg.deadline)
    if worker.is_alive():
        raise TimeoutError(f"download unfinished after {cfg.deadline:g} s (AIRKEN_HUB_DEADLINE)")
    if "error" in outcome:
        raise outcome["error"]
    log.debug("downloaded %s in %.2f s", cfg.label, time.monotonic() - started)
    return Path(outcome["path"])


# ---------------------------------------------------------------------------- env helpers


def _hub_cache_dir(default: str) -> str:
    """Read at call time: huggingface_hub reads HF_HOME / HF_HUB_CACHE once, at import."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.path.expanduser(os.environ["HF_HUB_CACHE"])
    if os.environ.get("HF_HOME"):
        return os.path.join(os.path.expanduser(os.environ["HF_HOME"]), "hub")
    return default


def _expected_sha256() -> str | None:
    """A malformed pin is an error, not ignored: a checksum that is skipped protects nothing."""
    value = settings.current().model_sha256
    if value and not is_sha256(value):
        raise ModelUnavailable(f"AIRKEN_MODEL_SHA256={value!r} is not a sha256 (64 hex digits).")
    return value or None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else repr(error)
