"""Every scenario, one after the other, each in a process of its own:
``python -m bench [--smoke] [--only NAME ...] [--output FILE]``.

The tables are printed as they come, after a header naming the machine and the commit, and
are also written to ``--output`` for docs/performance.md. The soak (bench.soak) is not
among them: it holds the machine for ten minutes, and is run by itself.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.support.runner import machine

SCENARIOS = [
    "fanout",
    "idle_sockets",
    "persisted_sends",
    "history",
    "queue_throughput",
    "uploads",
]


def _commit() -> str:
    described = subprocess.run(
        ["git", "describe", "--always", "--dirty"],  # noqa: S607 - git from PATH
        capture_output=True,
        text=True,
        check=False,
    )
    return described.stdout.strip() or "unknown"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: the harness runs")
    parser.add_argument("--only", nargs="+", choices=SCENARIOS, help="run just these")
    parser.add_argument("--output", type=Path, help="also write the tables to this file")
    arguments = parser.parse_args()
    command = " ".join(["python -m bench", *sys.argv[1:]])
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    header = f"`{command}` at {_commit()}, {now}, on {machine()}\n"
    print(header, flush=True)
    sections = [header]
    failed: list[str] = []
    for name in arguments.only or SCENARIOS:
        started = time.monotonic()
        arguments_of = [sys.executable, "-m", f"bench.{name}"]
        if arguments.smoke:
            arguments_of.append("--smoke")
        done = subprocess.run(arguments_of, capture_output=True, text=True, check=False)  # noqa: S603
        print(done.stdout, end="", flush=True)
        sections.append(done.stdout)
        took = time.monotonic() - started
        if done.returncode != 0:
            failed.append(name)
            print(done.stderr[-5000:], file=sys.stderr)
        print(f"({name}: {took:.0f} s{', FAILED' if done.returncode else ''})\n", flush=True)
    if arguments.output:
        arguments.output.write_text("\n".join(sections))
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
