"""Local executor: a pool of spawned worker processes sized to the cores and memory."""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import sys
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from avatarvid.pipelines.batch.schema import Job
from avatarvid.pipelines.batch.worker import Outcome, execute, init_local_worker

# Peak RSS of one worker rendering 512 px is ~350 MB (README); leave room for spikes.
MEMORY_PER_WORKER = 1 << 30


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def default_workers(num_jobs: int) -> int:
    """One worker per core, fewer if the available memory cannot hold them or jobs are few."""
    available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")  # free memory
    meminfo = Path("/proc/meminfo")
    if meminfo.is_file():  # Linux: free + reclaimable page cache
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
    return max(1, min(usable_cores(), available // MEMORY_PER_WORKER, num_jobs))


def _quiet_resource_tracker() -> None:
    """A stop by signal terminates workers mid-task; multiprocessing's resource tracker then
    unlinks the pool's semaphores itself and would print a warning after our one-line message.
    Its process takes the -W options of ours, so this must run before the first queue exists."""
    option = "ignore::UserWarning:multiprocessing.resource_tracker"
    if option not in sys.warnoptions:
        sys.warnoptions.append(option)


class LocalExecutor:
    """Runs worker.execute in `workers` spawned processes; stage progress comes back on a
    queue. A worker that dies (segfault, OOM kill) fails only the jobs it was running and
    the ones queued behind it in the broken pool; the pool is rebuilt for the rest."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._ctx = mp.get_context("spawn")
        _quiet_resource_tracker()
        self._progress = self._ctx.Queue()
        self._futures: dict[Future, Job] = {}
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        cv_threads = max(1, usable_cores() // self.workers)
        return ProcessPoolExecutor(
            self.workers,
            mp_context=self._ctx,
            initializer=init_local_worker,
            initargs=(self._progress, cv_threads),
        )

    def submit(self, job: Job) -> None:
        self._futures[self._pool.submit(execute, job)] = job

    def pending(self) -> int:
        return len(self._futures)

    def poll(self, timeout: float) -> list[tuple[Job, Outcome]]:
        done, _ = wait(list(self._futures), timeout=timeout, return_when=FIRST_COMPLETED)
        results = []
        broken = False
        for future in done:
            job = self._futures.pop(future)
            try:
                results.append((job, future.result()))
            except BrokenProcessPool:
                broken = True
                results.append((job, Outcome(job.key, False, error="worker process died")))
        if broken:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._new_pool()
        return results

    def progress(self) -> list[tuple[str, str, float]]:
        events = []
        while True:
            try:
                events.append(self._progress.get_nowait())
            except queue.Empty:
                return events

    def shutdown(self) -> None:
        """Stop at once: queued jobs are cancelled, running workers terminated."""
        if self._progress is None:
            return
        # The pool has no public way to stop running tasks; its process table is the handle.
        processes = list((getattr(self._pool, "_processes", None) or {}).values())
        if not self._futures:
            processes = []  # idle workers: let them exit on their own
        self._pool.shutdown(wait=not processes, cancel_futures=True)
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(timeout=5)
        self._futures.clear()
        self._progress.close()
        self._progress.join_thread()
        self._progress = self._pool = None  # release the queue's semaphores now
