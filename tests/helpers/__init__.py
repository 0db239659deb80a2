"""Shared test helpers, imported as `tests.helpers.<module>` (no sys.path edits):

- tiny_model: a tiny random Llama + trained BPE tokenizer (the `tiny_model_dir` fixture), a LoRA adapter on it
- reliability_helpers: run the CLI in-process or in a child process, write tiny suites, fake task plugins
- fidelity_resolve: the effective settings of a suite, for docs/fidelity.md's test
- lm_eval_fixtures: two tiny lm-eval tasks over a JSONL file
- synthetic_runs: synthetic run folders in the real layout, for report tests
- full_disk: a file object that fails its writes with ENOSPC halfway
- toy_task: a two-field (profile + question) task and its items, for pair and diagnostic tests
"""
