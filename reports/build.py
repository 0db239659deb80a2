"""Build a report folder (report.md, index.html, PNG figures, wide CSVs) from run folders.

Only results.csv, manifest.json, samples.jsonl, pairs.jsonl and train_log.jsonl are read: no model is loaded.
Each run's inspect logs (<run>/inspect/, derived from its samples) are refreshed on the way. Several runs merge
into one report (e.g. one run per model family, or one run per seed).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from groundfloor.errors import UserError
from groundfloor.rundir import atomic_write_text
from reports import figures, meta, pmi, samples_view, tables, validity
from reports.html import Section, render_html, render_markdown
from reports.lm_eval_view import lm_eval_sections
from reports.load import load_results, open_runs
from reports.paired import gains_vs_round0, last_round, method_vs_method
from reports.train_steps import step_curves

GAIN_NOTE = ("Gain = last round − round 0 on the same item ids (paired). 0/1 scores: exact McNemar p-value, "
             "95% CI by Newcombe's hybrid score method 10 (CI method newcombe10), and McNemar's discordant counts "
             "'improved / broken' (items 0 → 1 / 1 → 0); graded scores: paired bootstrap p-value and 95% CI; when "
             "items share a user, the bootstrap resamples whole users and a 0/1 gain's CI is never narrower than "
             "Newcombe's (bootstrap+newcombe10-floor). A bootstrap CI of zero width (every item or user changed by "
             "the same amount) is replaced by a Wilson bound on the share of items that could have changed "
             "(bootstrap+wilson-floor). Heatmap stars: Benjamini–Hochberg q < 0.05 across the heatmap's cells (the p-values in the table are unadjusted); rel. gain = gain / round 0 (its CI ignores the round-0 uncertainty). Without samples.jsonl an unpaired normal approximation is used (see 'test').")


def inspect_logs_note(runs) -> str:
    """Write (or refresh) each run's inspect logs (reports/inspect_logs.py) and say where they are."""
    from reports.inspect_logs import LOG_DIR, write_run_logs

    notes = []
    for r in runs:
        try:
            n = len(write_run_logs(r.path))
        except (UserError, OSError) as e:
            notes.append(f"{r.label}: inspect logs not written ({e})")
            continue
        notes.append(f"{r.label}: {n} inspect logs in {r.path / LOG_DIR}, one per evaluation and per round's pairs "
                     f"(browse: mipo-bench view {r.path}; pandas: inspect_ai.analysis.samples_df)")
    return "Every sample: " + "; ".join(notes) + "."


def _sections(runs, df: pd.DataFrame, out: Path) -> list[Section]:
    """The report's sections, in order: results, comparisons, training, then where the numbers came from."""
    main = tables.main_metrics(df)
    gains = gains_vs_round0(main, runs) if not main.empty else pd.DataFrame()
    if not gains.empty:
        gains.to_csv(out / "gains.csv", index=False)
    return (_result_sections(runs, df, out, main, gains) + _comparison_sections(runs, out, main, gains)
            + _training_sections(runs, df, out) + _source_sections(runs, df))


def _result_sections(runs, df: pd.DataFrame, out: Path, main: pd.DataFrame, gains: pd.DataFrame) -> list[Section]:
    multi = len(runs) > 1
    last = last_round(gains)
    head = tables.headline_table(last, multi)
    if not head.empty:
        head["flags"] = validity.gain_flags(last, df)  # format/length-driven gains, results below chance
    s = [Section("Headline: round 0 vs last round", GAIN_NOTE + " " + validity.FLAG_NOTE, head,
                 figures.gain_heatmap(last, out, multi)),
         *[x for x in [samples_view.flipped_items(runs, last)] if x is not None],
         *lm_eval_sections(main, gains, runs),
         Section("Main metric per model, method and round",
                 "Each cell: mean [95% CI] (n items); CI: Wilson for 0/1 scores, percentile bootstrap for graded scores "
                 "and wherever items share a user (users resampled; 0/1 scores never narrower than Wilson's), a "
                 "Wilson bound where the bootstrap has zero width (results.csv column ci_method). Round 0 (prompting) "
                 "is the shared baseline.",
                 tables.per_round_table(df), figures.round_curves(main, out, multi)),
         Section("What the scores measure", validity.NOTE, validity.validity_table(df)),
         Section("Gain per model family", "Mean of the models' paired gains per family (family from results.csv); "
                 "CI combines the models' CIs assuming independent models.", tables.family_table(gains))]
    return s


def _comparison_sections(runs, out: Path, main: pd.DataFrame, gains: pd.DataFrame) -> list[Section]:
    s: list[Section] = []
    methods = tables.method_table(main) if not main.empty else pd.DataFrame()
    if not methods.empty:
        s.append(Section("Method comparison at equal rounds", "Main metric, mean [95% CI] (n).", methods,
                         figures.method_bars(main, out)))
        mvm = method_vs_method(main, runs)
        if not mvm.empty:
            mvm = mvm.assign(**{"diff [95% CI]": [tables.fmt_gain(*t) for t in
                                                  zip(mvm["diff"], mvm["ci_low"], mvm["ci_high"])],
                                "improved / broken": [tables.fmt_discordant(*t) for t in
                                                      zip(mvm["improved"], mvm["broken"])],
                                "p": mvm["p_value"].map(tables.fmt_p), "CI method": mvm["ci_method"]})
            s.append(Section("Paired method differences", "Same items, same round. 0/1 scores: 'improved / "
                             "broken' counts the items the first method gets right and the second wrong, and the "
                             "reverse; CIs as in the headline.",
                             mvm[["run", "model", "task", "round",
                                  *(["trained on"] if mvm["trained on"].ne("").any() else []), "comparison",
                                  "diff [95% CI]", "improved / broken", "p", "n", "test", "CI method"]]))
    seeds = tables.seed_table(main, gains) if not main.empty else pd.DataFrame()
    if not seeds.empty:
        s.append(Section("Seed variance", "Runs differing by seed: SD across seeds (seed variance) next to the "
                         "mean within-run sampling SE (from each run's CI). Check in 'Runs' that "
                         "'config hash w/o seed' agrees, i.e. the runs differ only by seed.", seeds))
    return s


def _training_sections(runs, df: pd.DataFrame, out: Path) -> list[Section]:
    s = [Section("Training and diagnostics per round",
                     "One row per policy (trained_on: the tasks whose pairs trained it; one per task with "
                     "training.scope per_task). relative_weight_change = ||θ_new − θ_parent|| / ||θ_parent|| in fp32 "
                     "over the trained weights (LoRA: the adapted modules' effective weights; n = weights compared); "
                     "loss / rewards_* from training (task _train, no CI: n = steps logged); pmi (nats, summed over "
                     "the response's tokens), pmi_per_token (nats per response token, mean over prompts), "
                     "response_words, distinct_2 from the held-out diagnostic prompts (n = prompts). Read changes "
                     "in PMI from the paired table below, not from these per-round CIs. First figure: one row per "
                     "metric, one column per task (training rows under the task they trained on); second: loss and "
                     "reward margin per optimizer step from train_log.jsonl, rounds concatenated.",
                     tables.diagnostics_table(df), figures.diagnostics_curves(df, out) + step_curves(runs, out))]
    pairs = samples_view.example_pairs(runs)
    if pairs is not None:
        s.append(pairs)
    changes = pmi.pmi_changes(df, runs)
    if not changes.empty:
        changes.to_csv(out / "pmi_changes.csv", index=False)
        s.append(Section("PMI change vs round 0, paired on the diagnostic prompts",
                         "Round k − round 0 on the same held-out prompts x (and the same counterfactuals x'), each "
                         "round with its own answers y: mean over prompts of the change, 95% paired bootstrap CI "
                         "(a Wilson bound where it has zero width; see CI method), bootstrap p-value, n = prompts "
                         "paired. Summed PMI in nats; per token in nats per response token.", changes))
    transfer = tables.transfer_table(df)
    if not transfer.empty:
        s.append(Section("Transfer: each task's policy on every task",
                         "training.transfer: main metric, mean [95% CI] (n); (own task) marks the task the policy "
                         "trained on.", transfer))
    return s


def _source_sections(runs, df: pd.DataFrame) -> list[Section]:
    return [Section("Runs", inspect_logs_note(runs), meta.runs_table(runs, df)),
          Section("Models", "", meta.models_table(runs)),
          Section("Data", "", meta.data_table(runs)),
          Section("Details: sha256 of the model weight files", "As recorded in each run's manifest.json.",
                  meta.model_hashes(runs), collapsed=True)]


def build_report(runs: list[Path], out: Path) -> Path:
    """Write report.md, index.html, results_wide.csv, gains.csv and PNG figures into `out`; returns report.md."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    opened = open_runs(runs)
    df = load_results(opened)
    banners = [f"PARTIAL RUN: {r} was evaluated on a subset of items (--limit / task limit); numbers are not "
               "comparable to full runs." for r in meta.partial_runs(opened, df)]
    banners += meta.label_leak_banners(opened)
    if df.empty:
        banners.append("No results yet.")
        sections = [Section("Runs", "", meta.runs_table(opened, df))]
    else:
        tables.wide_results(df).to_csv(out / "results_wide.csv", index=False)
        sections = _sections(opened, df, out)
    title = "mipo-bench report: " + ", ".join(r.label for r in opened)
    md = out / "report.md"
    atomic_write_text(md, render_markdown(title, banners, sections))
    atomic_write_text(out / "index.html", render_html(title, banners, sections))
    return md
