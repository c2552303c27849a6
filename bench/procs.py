"""Process metrics read straight from /proc: CPU time and proportional memory (PSS) of a process tree."""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name, or None once the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            raw = stat.read().decode()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name may hold spaces and parentheses; everything after its last ")" is fixed.
    return raw[raw.rindex(")") + 2:].split()


def children(pid: int) -> list[int]:
    """The live child processes of `pid` (gunicorn's workers for its master)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None and int(fields[1]) == pid:
                found.append(int(entry))
    return sorted(found)


def tree(pid: int) -> list[int]:
    """A process and its children: the app's master and workers."""
    return [pid, *children(pid)]


def cpu_ticks(pids: list[int]) -> dict[int, int]:
    """utime + stime of each live process, in clock ticks."""
    ticks = {}
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is not None:
            ticks[pid] = int(fields[11]) + int(fields[12])  # fields 14 and 15 of stat(5)
    return ticks


def cpu_seconds_between(before: dict[int, int], after: dict[int, int]) -> float:
    """CPU seconds spent between two samples; a process born in between counts from zero."""
    return sum(ticks - before.get(pid, 0) for pid, ticks in after.items()) / TICKS_PER_SECOND


def context_switches(pids: list[int]) -> dict[int, int]:
    """Context switches (voluntary and not) so far of every thread of these processes, by thread id."""
    counts = {}
    for pid in pids:
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except FileNotFoundError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{pid}/task/{task}/status") as status:
                    counts[int(task)] = sum(int(line.split()[1]) for line in status if "ctxt_switches:" in line)
            except (FileNotFoundError, ProcessLookupError):
                continue
    return counts


def wakeups_between(before: dict[int, int], after: dict[int, int]) -> int:
    """How often the threads woke between two samples; a thread born in between counts from zero."""
    return sum(count - before.get(tid, 0) for tid, count in after.items())


def machine_busy_seconds() -> float:
    """CPU seconds the machine's cores have spent working since boot (idle, iowait and steal left out)."""
    with open("/proc/stat") as stat:
        user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in stat.readline().split()[1:8])
    return (user + nice + system + irq + softirq) / TICKS_PER_SECOND


def pss_kib(pid: int) -> int:
    """The proportional set size of a process: shared pages split among the processes sharing them."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def tree_pss_mib(master: int) -> float:
    """PSS summed over the master and its workers, in MiB."""
    return sum(pss_kib(pid) for pid in tree(master)) / 1024


@dataclass
class PeakPss:
    """Samples the PSS of a process tree in a background thread; `peak_mib` is the highest sum seen."""

    master: int
    interval: float = 0.2
    peak_mib: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> PeakPss:
        self.peak_mib = tree_pss_mib(self.master)
        self._thread = threading.Thread(target=self._sample, name="pss-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mib = max(self.peak_mib, tree_pss_mib(self.master))

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak_mib = max(self.peak_mib, tree_pss_mib(self.master))
