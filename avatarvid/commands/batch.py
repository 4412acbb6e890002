"""`avatarvid batch`: render every job in a YAML/JSONL file, resumably."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from avatarvid.commands.options import add_device


def register(sub) -> None:
    p = sub.add_parser(
        "batch",
        help="render many jobs from a YAML/JSONL file (resumable; local or Ray)",
        description="Validate every job in JOBS first, then render them on local worker "
        "processes or Ray tasks. A manifest (<jobs>.manifest.jsonl next to the outputs) "
        "records each finished job; re-running the same command skips valid outputs and "
        "redoes the rest. Exit code: 0 all succeeded, 1 some failed, 2 invalid job file.",
        epilog="example: avatarvid batch examples/batch.yaml --output-root out/",
    )
    p.add_argument("jobs", type=Path, help="job file (.yaml/.yml or .jsonl)")
    p.add_argument(
        "--workers", type=int, help="local worker processes (default: cores, memory-bounded)"
    )
    p.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="run jobs as Ray tasks on the cluster at ADDRESS; 'auto' = this machine's cluster "
        "or a new local instance (needs pip install 'avatarvid[ray]')",
    )
    p.add_argument(
        "--ray-cpus-per-job", type=float, default=1.0, help="CPUs Ray reserves per job (1)"
    )
    p.add_argument("--retries", type=int, default=1, help="retries after a crash or bug (1)")
    p.add_argument("--fail-fast", action="store_true", help="stop at the first failed job")
    p.add_argument(
        "--output-root",
        type=Path,
        help="relative outputs go here (and may not leave it); the manifest too",
    )
    p.add_argument("--check", action="store_true", help="validate and list the jobs only")
    add_device(p)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    mode.add_argument("--json-log", action="store_true", help="JSON lines on stdout")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from avatarvid.errors import InputError
    from avatarvid.pipelines.batch.local import LocalExecutor, default_workers
    from avatarvid.pipelines.batch.manifest import Manifest, manifest_path
    from avatarvid.pipelines.batch.progress import FAILED, BatchReporter
    from avatarvid.pipelines.batch.runner import run_batch
    from avatarvid.pipelines.batch.schema import load_jobs

    if args.workers is not None and args.workers < 1:
        raise InputError("--workers must be at least 1")
    if args.retries < 0:
        raise InputError("--retries must be 0 or more")
    if args.output_root is not None and not args.output_root.is_dir():
        raise InputError(f"output root {args.output_root} does not exist; create it first")
    if args.device is not None:  # before any job runs; under Ray the nodes have the devices
        from avatarvid.device import DEVICE_CHOICES
        from avatarvid.pipelines.control import model_device

        if args.device not in DEVICE_CHOICES:
            raise InputError(f"--device {args.device!r} is not one of {', '.join(DEVICE_CHOICES)}")
        if not args.ray:
            model_device(args.device, needs_model=False)
    jobs = load_jobs(args.jobs, args.output_root, args.device)
    if args.check:
        for i, job in enumerate(jobs):
            print(f"{i}  {job.kind}  {job.key}" + (f"  ({job.problem})" if job.problem else ""))
        return 0

    def make_executor(num_jobs: int):
        workers = args.workers or default_workers(num_jobs)
        if args.ray:
            from avatarvid.pipelines.batch.ray_executor import RayExecutor

            return RayExecutor(args.ray, workers, args.ray_cpus_per_job, args.retries)
        return LocalExecutor(workers)

    if args.ray:  # fail on a missing extra before anything runs
        from avatarvid.pipelines.batch.ray_executor import import_ray

        import_ray()
    mode = "json" if args.json_log else "quiet" if args.quiet or not sys.stderr.isatty() else "bar"
    manifest = Manifest(manifest_path(args.jobs, args.output_root))
    reports = run_batch(
        jobs, manifest, make_executor, BatchReporter(mode), args.retries, args.fail_fast
    )
    return 1 if any(r.status in FAILED for r in reports) else 0
