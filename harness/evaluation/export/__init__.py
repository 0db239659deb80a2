"""Exports of mipo-bench tasks to other evaluation tools (lm-eval, inspect-ai): same items, same
prompt, and scoring that calls mipo-bench's own `Task.score`, so scores agree item by item."""
