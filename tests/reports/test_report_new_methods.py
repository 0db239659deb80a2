"""verified_dpo, rlvr and rlaif flow through every report table, `compare` and the family view like mipo."""

from __future__ import annotations

import pandas as pd

from reports.build import build_report
from reports.load import load_results, open_runs
from reports.compare import compare_runs
from reports.tables import family_table, main_metrics, method_table
from tests.helpers.synthetic_runs import make_run

METHODS = ("mipo", "verified_dpo", "rlvr", "rlaif")
MODELS = (("alpha-1b", "llama"), ("beta-2b", "qwen"))


def test_new_methods_in_tables_family_view_and_report(tmp_path):
    run = make_run(tmp_path / "run", models=MODELS, methods=METHODS, rounds=1)
    md = build_report([run], tmp_path / "report")
    gains = pd.read_csv(tmp_path / "report" / "gains.csv")
    assert set(gains["method"]) == set(METHODS)
    fam = family_table(gains)
    assert {(f, m) for f, m in zip(fam["family"], fam["method"])} == {(f, m) for _, f in MODELS for m in METHODS}
    table = method_table(main_metrics(load_results(open_runs([run]))))
    assert set(METHODS) <= set(table.columns) and (table[list(METHODS)] != "").all().all()
    text = md.read_text()
    section = text[text.index("Method comparison"):text.index("Training and diagnostics")]
    for m in METHODS:
        assert m in section


def test_compare_pairs_new_methods_across_runs(tmp_path):
    a = make_run(tmp_path / "a", methods=METHODS, rounds=1, seed=0)
    b = make_run(tmp_path / "b", methods=METHODS, rounds=1, seed=1)
    rows = compare_runs(a, b)
    assert set(rows["method"]) == {"prompting", *METHODS}  # round 0 and every trained method
    assert (rows["n"] > 0).all()
