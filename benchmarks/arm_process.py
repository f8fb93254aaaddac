"""One benchmark arm in a process of its own: imports, caches, allocator and thread settings of one arm
do not carry into the next, and the arm's time is what a fresh job would see."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def run_arm_process(script: str, name: str, passthrough: list) -> dict:
    """Run ``script --arm NAME --arm-out FILE *passthrough`` and return the JSON the arm wrote, with
    the 1-minute load average before it started (``load_before``: a busy machine shows there).
    A failed arm prints the end of its stderr and stops the benchmark."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        arm_out = f.name
    load = os.getloadavg()[0]
    proc = subprocess.run([sys.executable, script, "--arm", name, "--arm-out", arm_out, *passthrough],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"arm {name!r} failed")
    try:
        return {**json.loads(Path(arm_out).read_text()), "load_before": round(load, 2)}
    finally:
        os.unlink(arm_out)
