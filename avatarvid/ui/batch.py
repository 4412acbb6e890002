"""Batch tab: a job file with its inputs (uploaded files or one .zip) or a job file on the
server, rendered by pipelines/batch into the app's temporary folder, shown as a live table."""

from __future__ import annotations

import shutil
import threading
import time
import zipfile
from pathlib import Path

import gradio as gr

from avatarvid.errors import InputError
from avatarvid.ui.jobs import Workspace, user_errors

COLUMNS = ["output", "kind", "status", "attempts", "seconds", "stage / error"]
JOB_SUFFIXES = (".yaml", ".yml", ".jsonl")


class TableReporter:
    """pipelines.batch Reporter that keeps one row per job for the page to poll."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, list] = {}

    def begin(self, reports) -> None:
        with self._lock:
            for r in reports:
                self._rows[r.job.key] = [r.job.key, r.job.kind, r.status, r.attempts, "", ""]

    def stage(self, key: str, stage: str, done: float) -> None:
        with self._lock:
            if key in self._rows:
                self._rows[key][2] = "running"
                self._rows[key][5] = f"{stage} {done:.0%}"

    def finished(self, report) -> None:
        seconds = f"{report.outcome.seconds:.1f}" if report.outcome else ""
        with self._lock:
            self._rows[report.job.key] = [
                report.job.key,
                report.job.kind,
                report.status,
                report.attempts,
                seconds,
                report.error or "",
            ]

    def end(self, reports) -> None:
        for report in reports:
            if report.status != "pending":
                self.finished(report)

    def rows(self) -> list[list]:
        with self._lock:
            return [list(r) for r in self._rows.values()]


class _Cancellable:
    """Wraps an executor: once `cancel` is set it reports nothing pending, so run_batch stops,
    shuts the workers down and removes the unfinished jobs' temporary files."""

    def __init__(self, executor, cancel: threading.Event) -> None:
        self._executor, self._cancel = executor, cancel

    def __getattr__(self, name):
        return getattr(self._executor, name)

    def pending(self) -> int:
        return 0 if self._cancel.is_set() else self._executor.pending()


def stage_job_file(
    ws: Workspace, job_file: str | None, inputs: list[str] | None, server_path: str
) -> Path:
    """The job file to run: uploads are copied with their inputs into a fresh folder (a .zip
    is unpacked there, keeping its subfolders); a server path is used where it is."""
    if job_file:
        folder = ws.new_folder() / "inputs"
        folder.mkdir()
        for path in inputs or []:
            if zipfile.is_zipfile(path):
                _unzip(Path(path), folder)
            else:
                shutil.copyfile(path, folder / Path(path).name)
        target = folder / Path(job_file).name
        shutil.copyfile(job_file, target)
        return target
    if not server_path.strip():
        raise InputError("upload a job file (and its inputs) or give a job file on the server")
    path = Path(server_path.strip()).expanduser()
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.suffix in JOB_SUFFIXES)
        if len(found) != 1:
            raise InputError(f"{path} holds {len(found)} job files; name the one to run")
        path = found[0]
    if not path.is_file():
        raise InputError(f"job file {path} does not exist on the server")
    return path


def _unzip(path: Path, folder: Path) -> None:
    with zipfile.ZipFile(path) as archive:
        for member in archive.infolist():
            target = (folder / member.filename).resolve()
            if not target.is_relative_to(folder.resolve()):
                raise InputError(f"{path.name}: {member.filename} would leave its folder")
        archive.extractall(folder)


def make_batch(ws: Workspace):
    @user_errors
    def batch(job_file, inputs, server_path, workers, request: gr.Request = None):
        """Validate the job file, then render its jobs; yields (table, outputs, summary)."""
        from avatarvid.pipelines.batch.local import LocalExecutor
        from avatarvid.pipelines.batch.manifest import Manifest, manifest_path
        from avatarvid.pipelines.batch.runner import run_batch
        from avatarvid.pipelines.batch.schema import load_jobs

        path = stage_job_file(ws, job_file, inputs, server_path or "")
        root = ws.new_folder()
        jobs = load_jobs(path, root)  # one InputError listing every problem
        reporter = TableReporter()
        cancel = ws.cancel_event(request)
        result: dict = {}

        def work() -> None:
            try:
                result["reports"] = run_batch(
                    jobs,
                    Manifest(manifest_path(path, root)),
                    lambda n: _Cancellable(LocalExecutor(max(1, min(int(workers), n))), cancel),
                    reporter,
                    retries=1,
                )
            except Exception as e:  # shown in the page below
                result["error"] = e

        started = time.perf_counter()
        thread = threading.Thread(target=work, name="avatarvid-ui-batch", daemon=True)
        thread.start()
        while thread.is_alive():
            thread.join(0.5)
            yield reporter.rows(), None, f"running {len(jobs)} job(s) ..."
        if "error" in result:
            raise result["error"]
        reports = result["reports"]
        outputs = [str(r.job.output) for r in reports if r.job.output.is_file()]
        counts: dict[str, int] = {}
        for r in reports:
            counts[r.status] = counts.get(r.status, 0) + 1
        text = ", ".join(f"{n} {s}" for s, n in counts.items())
        if cancel.is_set():
            text = "cancelled: " + text
        yield (
            reporter.rows(),
            outputs or None,
            f"{text} in {time.perf_counter() - started:.1f} s",
        )

    return batch
