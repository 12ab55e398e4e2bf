"""What a synced LevelDB write costs a node, and whether the event loop runs meanwhile.

Why ``node/disk_thread.py`` exists: a synced write (``sync=True``: the fsync that makes
a consensus record or a committed block survive power loss) mostly waits on the disk.
This prints, for ``--writes`` synced puts of a 200-byte record into a fresh LevelDB
under ``.bench/``, the wall clock and the CPU time per write, and how far a busy loop
on the main thread gets while a second thread does the same writes (plyvel releases
the GIL during LevelDB calls, so the main thread should keep most of its pace).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import plyvel  # noqa: E402


def spin(seconds: float) -> int:
    """Iterations of a trivial loop in ``seconds`` of wall clock (the main thread's pace)."""
    n, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--writes", type=int, default=100, help="synced writes to time")
    ap.add_argument("--dir", type=Path, default=ROOT / ".bench", help="where the LevelDB goes")
    args = ap.parse_args()
    path = args.dir / "disk-bench"
    shutil.rmtree(path, ignore_errors=True)
    args.dir.mkdir(parents=True, exist_ok=True)
    db = plyvel.DB(str(path), create_if_missing=True)
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(args.writes):
            db.put(b"k%d" % i, b"v" * 200, sync=True)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"synced write: {1000 * wall / args.writes:.2f} ms wall clock, "
              f"{1000 * cpu / args.writes:.3f} ms CPU ({args.writes} writes)")
        alone = spin(1.0)
        stop = threading.Event()

        def writer() -> None:
            i = 0
            while not stop.is_set():
                db.put(b"t%d" % i, b"v" * 200, sync=True)
                i += 1

        t = threading.Thread(target=writer)
        t.start()
        beside = spin(1.0)
        stop.set()
        t.join()
        print(f"main thread's pace while another thread writes synced: {100 * beside / alone:.0f} % of alone")
    finally:
        db.close()
        shutil.rmtree(path, ignore_errors=True)


if __name__ == "__main__":
    main()
