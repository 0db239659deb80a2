"""lm-eval's tasks evaluated by the run's own engine (adapter.py), offline over PyPI copies (offline.py)."""
