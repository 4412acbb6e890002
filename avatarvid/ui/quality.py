"""Quality report tab: `avatarvid eval`'s numbers as a table, and the per-frame curves behind
them (mouth opening against the speech's loudness, head yaw / pitch / roll) as plots."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from avatarvid.errors import InputError  # noqa: E402

COLUMNS = ["metric", "value", "meaning"]


def report_rows(report: dict) -> list[list[str]]:
    """The eval JSON as (label, formatted value, what it means) rows, in the CLI table's order."""
    from avatarvid.evaluate import report as eval_report

    labels, notes = eval_report._LABELS, eval_report._NOTES
    rows = []
    for key, value in report.items():
        rows.append([labels.get(key, key), eval_report._format(value), notes.get(key, "")])
    return rows


def load_report_json(path: str) -> dict:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{Path(path).name} is not an eval JSON report: {e}") from None
    if not isinstance(data, dict):
        raise InputError(f"{Path(path).name} is not an eval JSON report (expected an object)")
    return data


def curves(video: str, audio: str | None) -> dict[str, np.ndarray]:
    """Per-frame mouth opening, head angles and (when there is audio) the speech loudness."""
    from avatarvid.evaluate.metrics import mouth_aperture, speech_envelope
    from avatarvid.media.audio import ANALYSIS_RATE, load_audio
    from avatarvid.media.video import VideoReader, probe
    from avatarvid.perception.face_mesh import FaceMeshTracker
    from avatarvid.perception.head_pose import head_pose_angles

    reader = VideoReader(video)
    mouth, angles = [], []
    with FaceMeshTracker(static_image_mode=False, max_faces=1) as tracker:
        for frame in reader.frames(batch_size=16):
            faces = tracker.detect(frame)
            if faces:
                mouth.append(mouth_aperture(faces[0].landmarks))
                angles.append(head_pose_angles(faces[0].landmarks))
            else:
                mouth.append(np.nan)
                angles.append((np.nan, np.nan, np.nan))
    out = {
        "time": np.arange(len(mouth)) / reader.fps,
        "mouth": np.array(mouth),
        "angles": np.array(angles, dtype=np.float64).reshape(-1, 3),
    }
    source = audio or (video if probe(video).audio_codec else None)
    if source is not None and len(mouth):
        out["loudness"] = speech_envelope(
            load_audio(source, ANALYSIS_RATE), ANALYSIS_RATE, reader.fps, len(mouth)
        )
    return out


def plot_curves(series: dict[str, np.ndarray]):
    """Two stacked plots: mouth opening (+ loudness, right axis) and head pose angles."""
    t = series["time"]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5.5), sharex=True, layout="constrained")
    top.plot(t, series["mouth"], color="tab:red", label="mouth opening")
    top.set_ylabel("mouth opening\n(lip gap / eye distance)")
    if "loudness" in series:
        right = top.twinx()
        right.plot(t, series["loudness"], color="tab:gray", alpha=0.6, label="speech loudness")
        right.set_ylabel("speech loudness (dB)")
        right.legend(loc="upper right")
    top.legend(loc="upper left")
    top.set_title("Lip sync: mouth opening follows the speech")
    for i, name in enumerate(("yaw", "pitch", "roll")):
        bottom.plot(t, series["angles"][:, i], label=name)
    bottom.set_ylabel("head angle (deg)")
    bottom.set_xlabel("time (s)")
    bottom.legend(loc="upper right")
    bottom.set_title("Head pose")
    return fig


def make_quality():
    from avatarvid.ui.jobs import require, user_errors

    @user_errors
    def quality(video, reference, audio, report_json):
        """A rendered video + its photo (+ the speech) -> eval table and curves; or an
        uploaded eval JSON -> the table alone."""
        if report_json and not video:
            return report_rows(load_report_json(report_json)), None
        require(video, "a video (or an eval JSON report)")
        require(reference, "the photo the video was made from")
        from avatarvid.evaluate.report import evaluate_talking_video

        report = evaluate_talking_video(video, reference, audio or None)
        figure = plot_curves(curves(video, audio or None))
        return report_rows(report.to_dict()), figure

    return quality
