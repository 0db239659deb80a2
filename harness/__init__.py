"""mipo-bench engine, in two parts whose imports run one way (checked by `lint-imports`, see pyproject.toml).

Lower part, imported by `tasks`, `mipo` and `reports` and importing none of them: `errors`, `methods`
(the method registry), `records` (the run's typed nouns), `rundir`, `results`, `outpaths`, `output`, `progress`, `progress_hooks`, `stats`,
`cache`, `locks`, `devices`, `pypi_fetch`, `backends`, `models`.

Upper part, driving the rest, top to bottom: `harness.cli` (the command line) > `harness.run` (the plan
of steps and the runner) > `reports` | `mipo` > `harness.evaluation` (tasks bound to a run: plans,
evaluation, scoring, provenance, exports), `config` and `overrides` (the suite, whose allowed methods and
negatives are the registries' keys) > `tasks` > the lower part.
"""

__version__ = "0.1.0"
