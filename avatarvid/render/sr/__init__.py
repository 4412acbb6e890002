"""Super-resolution stage: low-resolution frames -> full resolution, guided by the reference.

`model.SRNet` predicts the residual over bicubic (one pass, or a few diffusion steps);
`upscaler.VideoUpscaler` runs it over a stream of frames in windows that share their temporal
context (memory flat in video length) and `temporal.StaticHold` steadies static regions;
`degrade` makes training pairs from real images and videos.
"""
