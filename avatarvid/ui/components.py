"""gr.Image for photos that hands avatarvid the uploaded file untouched."""

from __future__ import annotations

import gradio as gr


def photo(label: str, **kwargs) -> gr.Image:
    """An image upload whose handler gets the uploaded file as is.

    gr.Image opens uploads with Pillow (and may convert and re-save them) before the handler
    runs, so a corrupt file would fail inside gradio with its own message; passing the file
    through lets avatarvid's loader (EXIF rotation, transparency, size limits) read it and
    report a bad file as one clear InputError. The override is on the instance: a gr.Image
    subclass would make gradio write a .pyi stub next to this module at import time."""
    component = gr.Image(label=label, type="filepath", sources=["upload"], **kwargs)
    default = component.preprocess

    def preprocess(payload):
        if payload is None or payload.path is None:
            return default(payload)
        return str(payload.path)

    component.preprocess = preprocess
    return component
