"""Tasks bound to a run (upper part of `harness`, below `mipo`): planning items, evaluating, scoring
predictions, prompt provenance, and exports to lm-eval and inspect_ai."""
