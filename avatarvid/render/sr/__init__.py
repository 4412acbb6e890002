"""Super-resolution stage: low-resolution frames -> full resolution, guided by the reference.

`model.SRNet` predicts the residual over bicubic (one pass, or a few diffusion steps);
`upscaler.VideoUpscaler` runs it over a stream of frames in overlapping windows (memory flat
in video length); `degrade` makes training pairs from real images and videos.
"""
