"""Install size: a fresh virtualenv with exactly requirements.txt (what Spaces installs).

    python -m bench.install_size                  # create + install in a temp dir, measure, delete
    python -m bench.install_size --skip-install VENV   # measure an existing virtualenv

Target: < 500 MB. Also lists the largest packages, and checks that TensorFlow is absent.
"""
from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import REPO_ROOT, report

log = logging.getLogger("bench.install_size")

TARGET_MB = 500


def dir_bytes(path: Path) -> int:
    """Bytes on disk of regular files (symlinks not followed, hard links counted once)."""
    seen, total = set(), 0
    for p in path.rglob("*"):
        try:
            st = p.lstat()
        except OSError:
            continue
        if not p.is_symlink() and p.is_file() and (st.st_dev, st.st_ino) not in seen:
            seen.add((st.st_dev, st.st_ino))
            total += st.st_size
    return total


def site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python*/site-packages"))
    if not found:
        raise FileNotFoundError(f"{venv} has no lib/python*/site-packages: is it a virtualenv?")
    return found[0]


def largest(venv: Path, top: int = 8) -> list[dict]:
    site = site_packages(venv)
    sizes = [(d.name, dir_bytes(d)) for d in site.iterdir() if d.is_dir() and not d.name.endswith(".dist-info")]
    sizes.sort(key=lambda t: -t[1])
    return [{"package": n, "mb": round(b / 1e6, 1)} for n, b in sizes[:top]]


def create_venv(venv: Path, requirements: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip"]
    done = subprocess.run([*pip, "install", "-q", "--disable-pip-version-check", "-r", str(requirements)],
                          capture_output=True, text=True)
    if done.returncode != 0:  # pip's own output only when it matters: it warns about every index
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        raise RuntimeError(f"pip install -r {requirements} failed with exit status {done.returncode}")
    return time.perf_counter() - t0


def measure(venv: Path) -> dict:
    site = site_packages(venv)
    total = dir_bytes(venv)
    return {
        "venv_mb": round(total / 1e6, 1),
        "site_packages_mb": round(dir_bytes(site) / 1e6, 1),
        "largest": largest(venv),
        "has_tensorflow": (site / "tensorflow").exists(),
        "target_mb": TARGET_MB,
        "met": total / 1e6 < TARGET_MB,
    }


def run(venv: Path | None = None, requirements: Path = REPO_ROOT / "requirements.txt") -> dict:
    if venv is not None:
        return {"venv": str(venv), "installed_here": False, **measure(venv)}
    with tempfile.TemporaryDirectory(prefix="airken-install-") as tmp:
        fresh = Path(tmp) / "venv"
        seconds = create_venv(fresh, requirements)
        return {"venv": "fresh (temp dir)", "installed_here": True, "install_s": round(seconds, 1),
                "requirements": requirements.name, **measure(fresh)}


def table(result: dict) -> str:
    lines = [f"virtualenv from requirements.txt: {result['venv_mb']} MB "
             f"(target < {result['target_mb']} MB: {'met' if result['met'] else 'MISSED'}); "
             f"site-packages {result['site_packages_mb']} MB; TensorFlow installed: {result['has_tensorflow']}"]
    if "install_s" in result:
        lines.append(f"install took {result['install_s']} s")
    lines.append("largest: " + ", ".join(f"{p['package']} {p['mb']} MB" for p in result["largest"]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--skip-install", type=Path, metavar="VENV", help="measure this existing virtualenv instead")
    p.add_argument("--requirements", type=Path, default=REPO_ROOT / "requirements.txt")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    result = run(args.skip_install, args.requirements.resolve())
    report(result, table(result), args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
