"""Ray executor: each job is a Ray task on an existing cluster (`--ray ADDRESS`), or on the
cluster this machine belongs to / a fresh local instance (`--ray auto`).

Workers must have avatarvid installed and see the job's input and output paths (a shared
filesystem); Ray reuses worker processes, so worker.py's reference cache carries across tasks.
"""

from __future__ import annotations

import logging
import os

from avatarvid.errors import InputError
from avatarvid.pipelines.batch.schema import Job
from avatarvid.pipelines.batch.worker import Outcome, execute


def import_ray():
    try:
        import ray
    except ImportError:
        raise InputError(
            "--ray needs Ray, an optional extra: pip install 'avatarvid[ray]'"
        ) from None
    return ray


class RayExecutor:
    def __init__(self, address: str, workers: int, cpus_per_job: float, retries: int) -> None:
        # No usage reporting to the internet; a local instance binds to loopback only.
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        ray = import_ray()
        self._ray = ray
        quiet = {"logging_level": logging.ERROR, "log_to_driver": False}
        if address == "auto":
            try:
                ray.init(address="auto", **quiet)
            except ConnectionError:
                ray.init(
                    num_cpus=workers,
                    include_dashboard=False,
                    _node_ip_address="127.0.0.1",
                    **quiet,
                )
        else:
            try:
                ray.init(address=address, **quiet)
            except ConnectionError as e:
                raise InputError(f"cannot reach the Ray cluster at {address}: {e}") from None
        # max_retries re-runs a task whose worker process or node died; job errors are
        # Outcomes, retried by the driver.
        self._task = ray.remote(execute).options(num_cpus=cpus_per_job, max_retries=retries)
        self._refs: dict = {}

    def submit(self, job: Job) -> None:
        self._refs[self._task.remote(job)] = job

    def pending(self) -> int:
        return len(self._refs)

    def poll(self, timeout: float) -> list[tuple[Job, Outcome]]:
        ready, _ = self._ray.wait(list(self._refs), num_returns=1, timeout=timeout)
        results = []
        for ref in ready:
            job = self._refs.pop(ref)
            try:
                results.append((job, self._ray.get(ref)))
            except Exception as e:  # the task's worker or node died past its retries
                results.append((job, Outcome(job.key, False, error=f"{type(e).__name__}: {e}")))
        return results

    def progress(self) -> list[tuple[str, str, float]]:
        return []  # per-job stage progress is local-only; Ray reports whole jobs

    def shutdown(self) -> None:
        for ref in self._refs:
            self._ray.cancel(ref, force=True)
        self._refs.clear()
        self._ray.shutdown()
