"""The batch driver: skip what is done, run the rest on an executor, retry transient
failures, record every finished job in the manifest, then publish its output by rename."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from avatarvid.pipelines.batch.manifest import Manifest
from avatarvid.pipelines.batch.schema import Job
from avatarvid.pipelines.batch.worker import Outcome, leftovers

POLL_SECONDS = 0.2


class Executor(Protocol):
    def submit(self, job: Job) -> None: ...
    def pending(self) -> int: ...
    def poll(self, timeout: float) -> list[tuple[Job, Outcome]]: ...
    def progress(self) -> list[tuple[str, str, float]]: ...
    def shutdown(self) -> None: ...


class Reporter(Protocol):
    def begin(self, reports: list[JobReport]) -> None: ...
    def stage(self, key: str, stage: str, done: float) -> None: ...
    def finished(self, report: JobReport) -> None: ...
    def end(self, reports: list[JobReport]) -> None: ...


@dataclass
class JobReport:
    """`status`: ok (rendered now), done (valid output from an earlier run), failed, unchanged
    (failed before on an input error, inputs unchanged: not retried), cancelled, pending."""

    job: Job
    status: str = "pending"
    attempts: int = 0
    outcome: Outcome | None = None
    error: str | None = None


def run_batch(
    jobs: list[Job],
    manifest: Manifest,
    make_executor: Callable[[int], Executor],
    reporter: Reporter,
    retries: int = 1,
    fail_fast: bool = False,
) -> list[JobReport]:
    """Runs `jobs`; returns one report per job (in file order). Never raises for a job's
    failure; on interruption the executor is stopped and no temporary file is left."""
    reports = [JobReport(job) for job in jobs]
    fingerprints = {job.key: job.fingerprint() for job in jobs}
    for report in reports:
        _remove_leftovers(report.job)  # from a killed earlier run
        previous = manifest.previous(report.job, fingerprints[report.job.key])
        if previous == "ok":
            report.status = "done"
        elif previous == "failed":
            report.status = "unchanged"
            report.error = manifest.records[str(report.job.output)].get("error")
    reporter.begin(reports)
    todo = [r for r in reports if r.status == "pending"]
    for report in [r for r in todo if r.job.problem]:  # missing inputs: fail without a worker
        report.attempts = 1
        _record_failure(
            manifest,
            report,
            fingerprints,
            Outcome(report.job.key, False, error=report.job.problem, permanent=True),
        )
        reporter.finished(report)
    todo = [r for r in todo if r.status == "pending"]
    if not todo or (fail_fast and any(r.status == "failed" for r in reports)):
        _cancel(todo)
        reporter.end(reports)
        return reports
    for report in todo:
        report.job.output.parent.mkdir(parents=True, exist_ok=True)
    executor = make_executor(len(todo))
    by_key = {r.job.key: r for r in todo}
    try:
        for report in todo:
            report.attempts = 1
            executor.submit(report.job)
        while executor.pending():
            for job, outcome in executor.poll(POLL_SECONDS):
                report = by_key[job.key]
                _remove_leftovers(job, keep=outcome.staged)  # from a crashed attempt
                if outcome.ok:
                    _publish(manifest, report, fingerprints, outcome)
                elif not outcome.permanent and report.attempts <= retries:
                    report.attempts += 1
                    executor.submit(job)
                    continue
                else:
                    _record_failure(manifest, report, fingerprints, outcome)
                reporter.finished(report)
                if fail_fast and report.status == "failed":
                    executor.shutdown()
                    _cancel(todo)
            for key, stage, done in executor.progress():
                reporter.stage(key, stage, done)
    finally:
        executor.shutdown()
        for report in todo:
            if report.status in ("pending", "cancelled"):
                _remove_leftovers(report.job)
    reporter.end(reports)
    return reports


def _remove_leftovers(job: Job, keep: str | None = None) -> None:
    for path in leftovers(job.output):
        if str(path) != keep:
            path.unlink(missing_ok=True)


def _cancel(reports: list[JobReport]) -> None:
    for report in reports:
        if report.status == "pending":
            report.status = "cancelled"


def _record(report: JobReport, fingerprints: dict[str, str], outcome: Outcome) -> dict:
    return {
        "output": str(report.job.output),
        "key": report.job.key,
        "kind": report.job.kind,
        "fingerprint": fingerprints[report.job.key],
        "attempts": report.attempts,
        "seconds": outcome.seconds,
        "worker": outcome.worker,
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def _publish(manifest: Manifest, report: JobReport, fingerprints, outcome: Outcome) -> None:
    """Manifest first, then the rename: a kill between the two loses the output (redone on
    the next run) but never leaves an output without its record."""
    manifest.append(
        {
            **_record(report, fingerprints, outcome),
            "status": "ok",
            "sha256": outcome.sha256,
            "bytes": outcome.bytes,
            "num_frames": outcome.num_frames,
            "timings": outcome.timings,
            "reference_cached": outcome.reference_cached,
        }
    )
    os.replace(outcome.staged, report.job.output)
    report.status, report.outcome = "ok", outcome


def _record_failure(manifest: Manifest, report: JobReport, fingerprints, outcome: Outcome) -> None:
    manifest.append(
        {
            **_record(report, fingerprints, outcome),
            "status": "failed",
            "permanent": outcome.permanent,
            "error": outcome.error,
        }
    )
    report.status, report.outcome, report.error = "failed", outcome, outcome.error
