"""mipo-bench engine: suite config, CLI, run directory, models, backends, statistics."""

__version__ = "0.1.0"
