"""mipo-bench engine, in two parts whose imports run one way (checked by `lint-imports`, see pyproject.toml).

Lower part, imported by `tasks`, `mipo` and `reports` and importing none of them: `errors`, `config`,
`rundir`, `results`, `outpaths`, `overrides`, `output`, `progress`, `progress_hooks`, `stats`, `cache`,
`locks`, `devices`, `pypi_fetch`, `backends`, `models`.

Upper part, driving the rest: `harness.evaluation` (tasks bound to a run: plans, evaluation, scoring,
provenance, exports; used by `mipo`), then `harness.run` (the plan of steps and the runner) and, on
top, `harness.cli`. The order, top to bottom: cli > run > reports | mipo > evaluation > tasks > lower part.
"""

__version__ = "0.1.0"
