"""Property: whatever a job file holds, validation returns jobs that stay inside the output
root, or raises one InputError line; never another exception, never a slow expansion."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from avatarvid.errors import InputError
from avatarvid.pipelines.batch.schema import load_jobs

FIELDS = [
    "kind",
    "image",
    "audio",
    "drive",
    "output",
    "preset",
    "fps",
    "size",
    "seed",
    "crop",
    "motion",
    "face_index",
    "mode",
    "retarget",
    "sr",
    "renderer",
    "bogus",
]
TEMPLATES = [
    "{image}.mp4",
    "{index}.mp4",
    "{audio}-{image}.mp4",
    "out/{image}.mp4",
    "../escape.mp4",
    "/tmp/abs.mp4",
    "{image!r}.mp4",
    "{image:>99}.mp4",
    "{nope}.mp4",
    "x.mp4",
    "x.avi",
    "{",
    "a/../../b.mp4",
    "é.mp4",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(TEMPLATES + ["vlog", "animate", "face.png", "a.wav", "*.wav", "d.mp4"]),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(FIELDS), inner, max_size=4)
    ),
    max_leaves=12,
)
noise = st.dictionaries(st.sampled_from(FIELDS), values, max_size=8)
# Mostly valid jobs with a few random fields on top, so the success path is explored too.
plausible = st.fixed_dictionaries(
    {
        "image": st.sampled_from(["face.png", ["face.png", "face.png"], "*.png", "nope.png"]),
        "audio": st.sampled_from(["a.wav", ["a.wav", "a.wav"], "*.wav"]),
        "output": st.sampled_from(TEMPLATES),
    },
    optional={
        "seed": st.integers(-5, 2**40),
        "size": st.integers(0, 5000),
        "fps": st.floats(allow_nan=True),
        "motion": st.fixed_dictionaries(
            {}, optional={"generator": st.sampled_from(["diffusion", "procedural", "x"])}
        ),
    },
)
job = st.one_of(plausible, plausible, noise)
document = st.one_of(
    st.lists(job, max_size=5),
    st.fixed_dictionaries({"jobs": st.lists(job, max_size=5)}, optional={"defaults": job}),
    values,
)


class _PlainDumper(yaml.SafeDumper):
    """Writes repeated objects out in full: job files with aliases are refused by design."""

    def ignore_aliases(self, data) -> bool:
        return True


@pytest.fixture(scope="module")
def folder(tmp_path_factory, astronaut_path, short_speech) -> Path:
    root = tmp_path_factory.mktemp("jobs")
    shutil.copy(astronaut_path, root / "face.png")
    shutil.copy(short_speech, root / "a.wav")
    (root / "out").mkdir()
    return root


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=document, as_jsonl=st.booleans())
def test_any_job_file_validates_or_fails_in_one_line(folder, doc, as_jsonl):
    if as_jsonl and isinstance(doc, list):
        path = folder / "jobs.jsonl"
        path.write_text("".join(json.dumps(j) + "\n" for j in doc))
    else:
        path = folder / "jobs.yaml"
        path.write_text(yaml.dump(doc, Dumper=_PlainDumper, allow_unicode=True))
    try:
        jobs = load_jobs(path, folder)
    except InputError as e:
        message = str(e)
        assert "\n" not in message and len(message) < 20_000
        return
    assert jobs
    assert len({j.output for j in jobs}) == len(jobs)
    for j in jobs:
        assert j.output.is_relative_to(folder.resolve()) and j.output.suffix == ".mp4"
        assert len(j.output.name) < 255
