"""The server's process gives large buffers back to the system when they are freed (glibc's mmap threshold fixed)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.pure

# Large blocks freed, then large blocks again with small objects allocated after each (which pin the heap's top):
# with glibc's dynamic threshold the second round lives in the heap and stays resident after it is freed.
_CHURN = """
import sys
from pathlib import Path
from realtime_kit.server.limits import keep_large_buffers_mapped
if sys.argv[1] == "fixed":
    keep_large_buffers_mapped()
def rss_mib():
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 2**20
start = rss_mib()
first = bytearray(8 << 20)
del first                                   # freed once: glibc raises its mmap threshold to 8 MiB here
big, small = [], []
for _ in range(24):
    big.append(bytearray(6 << 20))
    small.append(bytearray(4096))           # past pymalloc: from the heap, above the big block
big.clear()
print(round(rss_mib() - start))
"""


def resident_growth_mib(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", _CHURN, mode], capture_output=True, text=True, timeout=60, check=True)
    return int(done.stdout.strip())


def test_freed_large_buffers_leave_the_server_process() -> None:
    """144 MiB of 6 MiB buffers freed: with the threshold fixed the process keeps under 16 MiB of them; with
    glibc's default it keeps most of them (what a room's 15 MiB appends did to the server: +68% after it left)."""
    assert resident_growth_mib("fixed") < 16
    assert resident_growth_mib("default") > 100
