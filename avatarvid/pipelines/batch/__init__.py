"""`batch`: many vlog (and later animate) jobs from one YAML/JSONL file, resumable and
fault-isolated, on local worker processes or Ray tasks.

schema (job file -> validated jobs) -> runner (skip / submit / retry / record) with an
executor (local processes or Ray) that calls worker.execute on each job; manifest keeps
what finished so a re-run redoes only the rest.
"""
