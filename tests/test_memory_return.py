"""The server's process gives large buffers back to the system when they are freed (glibc's mmap threshold fixed)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.pure

# glibc raises its mmap threshold to the size of each large block freed (up to 32 MiB): after that, blocks below it
# come from the heap, where freed ones stay resident. The subprocess starts from that raised state (set explicitly,
# so the test does not depend on what the process freed before), optionally calls the server's fix, allocates one
# 6 MiB buffer and asks glibc (mallinfo2) how many bytes live in their own mappings.
_MAPPED = """
import ctypes, sys
from realtime_kit.server.limits import keep_large_buffers_mapped
libc = ctypes.CDLL("libc.so.6")
libc.mallopt(-3, 32 << 20)
if sys.argv[1] == "fixed":
    keep_large_buffers_mapped()
class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                                                     "fsmblks", "uordblks", "fordblks", "keepcost")]
libc.mallinfo2.restype = MallInfo2
before = libc.mallinfo2().hblkhd
buffer = b"\\x01" * (6 << 20)
print((libc.mallinfo2().hblkhd - before) >> 20)
"""


def mapped_mib(mode: str) -> int:
    """MiB of a fresh 6 MiB buffer that glibc placed in its own mapping (freed straight back to the system)."""
    done = subprocess.run([sys.executable, "-c", _MAPPED, mode], capture_output=True, text=True, timeout=60, check=True)
    return int(done.stdout.strip())


def test_large_buffers_get_their_own_mapping_in_the_server_process() -> None:
    """After keep_large_buffers_mapped a 6 MiB buffer is its own mapping even once glibc had raised its threshold
    (before the fix, a room's 15 MiB appends left the server +68% after it left); without it, it is in the heap."""
    assert mapped_mib("fixed") >= 6
    assert mapped_mib("raised") == 0
