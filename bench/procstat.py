"""CPU time and resident memory of processes, from /proc (Linux only, like the bench)."""

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int, tid: int | None = None) -> list[str]:
    path = f"/proc/{pid}/task/{tid}/stat" if tid is not None else f"/proc/{pid}/stat"
    text = Path(path).read_text()
    # The command name (field 2) may hold spaces; everything after its ')' is space-separated.
    return text[text.rindex(")") + 2 :].split()


def cpu_seconds(pid: int, *, children: bool = False) -> float:
    """utime + stime of `pid` (plus its reaped children's with `children`), in seconds."""
    fields = _stat_fields(pid)  # fields[0] is field 3 (state): utime is field 14
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICKS


def main_thread_cpu_seconds(pid: int) -> float:
    """utime + stime of the process's main thread alone (its other threads left out)."""
    fields = _stat_fields(pid, pid)
    return (int(fields[11]) + int(fields[12])) / TICKS


def child_pids(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(_stat_fields(int(entry.name))[1]) == parent:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue  # exited while we looked
    return found


def tree_cpu_seconds(root: int) -> float:
    """CPU of a server and all its children, live and exited (PostgreSQL's backends)."""
    total = cpu_seconds(root, children=True)
    for pid in child_pids(root):
        try:
            total += cpu_seconds(pid)
        except OSError:
            continue  # exited between listing and reading: counted in the parent's cutime next
    return total


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")
