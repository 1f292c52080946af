"""app.py under an audit hook: every file the server opens, lists or copies inside the
folders of AIRKEN_AUDIT_DIR (os.pathsep-separated; symlinks followed) is written to
AIRKEN_AUDIT_LOG, one "event path" a line. The security tests watch canary files, which
must never appear, and the upload folder, where the uploads they send must appear.

    AIRKEN_AUDIT_DIR=/tmp/canary AIRKEN_AUDIT_LOG=/tmp/audit.log python tests/audited_app.py --port 7860
"""
from __future__ import annotations

import os
import runpy
import sys
import threading
from pathlib import Path

WATCHED = tuple(os.path.realpath(p) for p in os.environ["AIRKEN_AUDIT_DIR"].split(os.pathsep))
EVENTS = {"open", "os.listdir", "os.scandir", "shutil.copyfile", "shutil.copytree", "os.rename", "os.link"}
_log = open(os.environ["AIRKEN_AUDIT_LOG"], "a", buffering=1)  # noqa: SIM115 - lives as long as the server
_inside = threading.local()


def _hook(event: str, args: tuple) -> None:
    if event not in EVENTS or not args or getattr(_inside, "busy", False):
        return
    target = args[0]
    if not isinstance(target, (str, bytes, os.PathLike)):
        return  # a file descriptor: its path was audited when it was opened
    _inside.busy = True
    try:
        path = os.path.realpath(os.fsdecode(target))
        if any(path == folder or path.startswith(folder + os.sep) for folder in WATCHED):
            _log.write(f"{event} {path}\n")
    finally:
        _inside.busy = False


sys.addaudithook(_hook)
app = Path(__file__).resolve().parent.parent / "app.py"
sys.argv = [str(app), *sys.argv[1:]]
sys.path.insert(0, str(app.parent))
runpy.run_path(str(app), run_name="__main__")
