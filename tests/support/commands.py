"""The `parley` command, run as an operator runs it: no PARLEY_* variable but those given."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

__all__ = ["PARLEY", "dying_with_the_test", "parley_env", "run_parley"]


def dying_with_the_test(*argv: str) -> list[str]:
    """``argv`` as a command the kernel kills if the test process dies before it: a crashed
    or killed pytest worker leaves no server running on, holding ports and CPU, under the
    next tests. ``setpriv`` sets the signal and execs ``argv``, so the process keeps its pid."""
    return ["setpriv", "--pdeathsig", "KILL", "--", *argv]


PARLEY = dying_with_the_test(sys.executable, "-m", "parley")


def parley_env(**variables: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("PARLEY_")}
    env.update(variables)
    return env


def run_parley(
    *args: str, cwd: Path | None = None, **variables: str
) -> subprocess.CompletedProcess[str]:
    """Run it to its end (a minute at most), its output captured."""
    return subprocess.run(
        [*PARLEY, *args],
        env=parley_env(**variables),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
