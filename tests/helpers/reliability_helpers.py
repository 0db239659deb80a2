"""Helpers for the reliability tests: run the CLI in-process and write tiny suites."""

from __future__ import annotations

import sys
from pathlib import Path


def run_cli(args: list[str], monkeypatch, capsys) -> tuple[int, str, str]:
    """`mipo-bench ARGS` through harness.cli.main (exit codes and one-line errors); returns (code, out, err)."""
    from harness.cli import main

    capsys.readouterr()
    monkeypatch.setattr(sys, "argv", ["mipo-bench", *map(str, args)])
    code = 0
    try:
        main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    out, err = capsys.readouterr()
    return code, out, err


def tiny_suite(path: Path, model: Path | str, tasks: str = "[{id: arc_challenge, limit: 2}]", rounds: int = 0,
               extra: str = "") -> Path:
    """A suite file for the tiny model: greedy, 8 new tokens, small training settings."""
    path.write_text(f"""
name: tiny
models: ["{model}"]
tasks: {tasks}
rounds: {rounds}
generation: {{greedy: true, max_new_tokens: 8, batch_size: 1}}
mipo: {{train_prompts_per_round: 4, diagnostics_prompts: 0, sampling: {{max_new_tokens: 8, greedy: true}}}}
training: {{per_device_batch_size: 2, gradient_accumulation_steps: 1, max_length: 768, warmup_ratio: 0.0}}
{extra}
""")
    return path


def run_suite_process(tmp_path: Path, suite_text: str, name: str = "suite.yaml", timeout: int = 1200):
    """Write `suite_text` and run `mipo-bench run` on it in a child process; the finished run's folder and result."""
    import subprocess

    suite = tmp_path / name
    suite.write_text(suite_text)
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "harness.cli", "run", str(suite), "--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc


def install_task_plugin(tmp_path, monkeypatch, name: str, module_body: str):
    """An installed distribution `name` whose task entry point is a module with `module_body` (on sys.path, as pip
    would leave it); the registry's once-per-plugin warnings are reset. Returns the site folder."""
    import tasks.registry as registry

    site = tmp_path / "site"
    info = site / f"{name}plugin-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[mipo_bench.tasks]\n{name} = {name}_plugin_mod\n")
    (site / f"{name}_plugin_mod.py").write_text(module_body)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setattr(registry, "_WARNED", set())
    return site
