"""avatarvid: one photo + speech -> a lip-synced talking video, on a CPU."""

__version__ = "0.1.0"
