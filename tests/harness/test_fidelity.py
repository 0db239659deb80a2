"""docs/fidelity.md against suites/paper.yaml, and our prompts against the MIPO authors' own code.

The table's ```yaml fidelity blocks give the paper's value of each setting (and any deviation that
paper.yaml records); tests/helpers/fidelity_resolve.py computes what paper.yaml actually runs. The authors'
scripts live outside the repository (../shared/reference/mipo-authors/); the tests that read them are
skipped where that folder is absent. Prompts are compared with the authors' by running their own
prompt-building lines (cited below) on the same inputs.
"""

from __future__ import annotations

import ast
import re
import string
import textwrap
from types import SimpleNamespace

import pytest

from tests.helpers.fidelity_resolve import ROOT, mismatches, table_entries
from harness.config import load_suite, load_yaml, parse_suite
from tasks.arc import ArcChallenge
from tasks.base import Item
from tasks.gsm8k import Gsm8k
from tasks.judge import JUDGE_USER, Judge
from tasks.prism import Prism
from tasks.svamp import Svamp

DOC = ROOT / "docs" / "fidelity.md"
SUITE = ROOT / "suites" / "paper.yaml"
REF = ROOT.parent / "shared" / "reference" / "mipo-authors"
METHOD = ROOT.parent / "shared" / "docs" / "mipo-method.md"
needs_ref = pytest.mark.skipif(not (REF / "gsm.py").is_file(), reason="the authors' scripts are not here")
QUESTION = "Tom has 3 apples. He buys 4 more. How many apples does he have?"


@pytest.fixture(scope="module")
def entries() -> dict[str, dict]:
    return table_entries(DOC)


def _flagged(problems: list[str]) -> set[str]:
    return {p.split(":", 1)[0] for p in problems}


def test_paper_suite_matches_the_table(entries):
    problems = mismatches(load_suite(SUITE), entries)
    assert not problems, "suites/paper.yaml vs docs/fidelity.md:\n" + "\n".join(problems)


def test_a_changed_setting_is_caught(entries):
    base = _flagged(mismatches(load_suite(SUITE), entries))
    data = load_yaml(SUITE)
    data["training"]["learning_rate"] = 1e-6
    data["mipo"]["train_prompts_per_round"] = 64
    gsm8k = next(t for t in data["tasks"] if isinstance(t, dict) and t.get("id") == "gsm8k")
    gsm8k["generation"] = {**gsm8k.get("generation", {}), "temperature": 0.7}
    after = _flagged(mismatches(parse_suite(data), entries))
    changed = {"training.learning_rate", "mipo.train_prompts_per_round", "tasks.gsm8k.eval.temperature"}
    assert changed <= after and after - changed <= base


def test_unknown_key_and_stale_deviation(entries):
    cfg = load_suite(SUITE)
    with pytest.raises(KeyError, match="training.lerning_rate"):
        mismatches(cfg, {"training.lerning_rate": {"paper": 5e-7}})
    stale = mismatches(cfg, {"training.beta": {"paper": 0.1, "suite": 0.1}})
    assert stale and "equal to the paper's value" in stale[0]


def test_every_row_cites_and_quotes(entries):
    for key, entry in entries.items():
        assert re.fullmatch(r"[\w.-]+\.(py|md):\d+(-\d+)?", str(entry.get("cite", ""))), key
        assert entry.get("quote"), key
        assert "suite" not in entry or entry.get("why"), f"{key}: a deviation needs a why"


def _cited_text(cite: str) -> str:
    name, lines = cite.split(":")
    first, _, last = lines.partition("-")
    path = METHOD if name == "mipo-method.md" else REF / name
    text = path.read_text(encoding="utf-8").splitlines()[int(first) - 1:int(last or first)]
    return " ".join(" ".join(text).split())


@needs_ref
def test_quotes_are_on_the_cited_lines(entries):
    wrong = [f"{k}: {e['cite']} lacks {e['quote']!r}" for k, e in entries.items()
             if " ".join(str(e["quote"]).split()) not in _cited_text(e["cite"])]
    assert not wrong, "\n".join(wrong)


def _run_authors(name: str, first: int, last: int, **names) -> dict:
    """Run lines first..last of an authors' script with the given names bound; return its namespace."""
    lines = (REF / name).read_text(encoding="utf-8").splitlines(keepends=True)[first - 1:last]
    namespace = dict(names)
    exec(compile(textwrap.dedent("".join(lines)), f"{name}:{first}-{last}", "exec"), namespace)  # noqa: S102
    return namespace


def _fewshot_sources(name: str) -> list[dict]:
    tree = ast.parse((REF / name).read_text(encoding="utf-8"))
    node = next(n for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "FEWSHOT_SOURCES")
    return ast.literal_eval(node.value)


@needs_ref
@pytest.mark.parametrize("script, prompt_lines, question_line, task", [
    ("gsm.py", (137, 139), 156, Gsm8k), ("svamp.py", (187, 189), 198, Svamp)])
def test_math_prompt_is_the_authors(script, prompt_lines, question_line, task):
    ns = _run_authors(script, *prompt_lines, FEWSHOT_SOURCES=_fewshot_sources(script))
    df = {"augmented_prompt": [], "partial_prompt": []}
    _run_authors(script, question_line, question_line, PROMPT=ns["PROMPT"], df=df, question=QUESTION,
                 row=SimpleNamespace(question=QUESTION))
    authors = df["augmented_prompt"][0].strip()  # gsm.py:184 / svamp.py:222 strip the prompt
    ours = task().messages(Item(id="q", question=QUESTION, target="7"))
    assert ours == [{"role": "user", "content": authors}]


@needs_ref
def test_arc_prompt_is_the_authors():
    question, choices = "Which gas do plants take in?", ["oxygen", "carbon dioxide", "helium", "argon"]
    ns = _run_authors("arc.py", 65, 69, question=question, choices=choices, labels=string.ascii_uppercase)
    ours = ArcChallenge().messages(Item(id="q", question=question, target="B", choices=tuple(choices)))
    assert ours == [{"role": "user", "content": ns["prompt"]}]


@needs_ref
def test_prism_prompts_are_the_authors():
    prompt, request = "What should I cook tonight?", "I am vegetarian. Keep it cheap."
    ns = _run_authors("prism.py", 277, 279, prompt=prompt, request=request, df={"prompt": []})
    item = Item(id="p", question=prompt, target=[request], context=request)
    assert Prism().messages(item) == [{"role": "user", "content": ns["augmented_prompt"]}]
    assert Prism().messages(item, with_context=False) == [{"role": "user", "content": ns["base_prompt"]}]


@needs_ref
@pytest.mark.parametrize("script, first, last, pref_name", [("prism.py", 213, 214, "preference"),
                                                             ("ca.py", 97, 98, "rubric")])
def test_judge_prompt_is_the_authors(script, first, last, pref_name):
    prompt, response, pref = "Plan a trip.", "Go to Rome for three days.", "I travel on a budget."
    ns = _run_authors(script, first, last, prompt=prompt, response=response, **{pref_name: pref})
    user = JUDGE_USER.format(question=prompt, response=response, preference=pref)
    assert Judge(backend=SimpleNamespace()).messages(user) == ns["messages"]


GSM_OUTPUTS = ["So 6 + 2 = 8.\n#### 8", "#### 1,234", "#### -7", "The answer is 42.", "#### 3.50 dollars",
               "#### 12\n#### 13", "####\n\n$5", "####.5", "#### x", ""]


@needs_ref
def test_gsm8k_authors_extraction_is_theirs():
    from tasks.extract import extract_authors_gsm

    for out in GSM_OUTPUTS:
        try:  # gsm.py:219-223: anything that raises goes to their model-call fallback, which we do not run
            theirs = _run_authors("gsm.py", 220, 222, re=re, response=out)["num"]
        except (IndexError, AttributeError):
            theirs = None
        ours = extract_authors_gsm(out)
        assert (None if ours is None else float(ours)) == theirs, out


ARC_OUTPUTS = ["Plants use it. The answer is: B", "the answer is (c)", "THE ANSWER IS D.", "I pick A.",
               "The answer is: <X> ... so the answer is C", "The answer is E", "The answer is: A or B", ""]


@needs_ref
def test_arc_authors_extraction_is_theirs():
    pd = pytest.importorskip("pandas")
    from tasks.extract import extract_authors_letter

    ns = _run_authors("arc.py", 89, 95, df=pd.DataFrame({"response": ARC_OUTPUTS}))
    theirs = [None if pd.isna(x) else x for x in ns["df"]["pred_answer"]]
    assert [extract_authors_letter(o) for o in ARC_OUTPUTS] == theirs


ECHOED = ['Your response should end with "The answer is: <X>", where X is the correct letter choice. A plant takes in '
          'carbon dioxide. The answer is: B',
          'Which gas do plants take in?\n\nA: oxygen\nB: carbon dioxide\nC: helium\nD: argon\n\nThe answer is: B',
          "I think it is carbon dioxide, so the answer is B."]


@needs_ref
def test_arc_accuracy_authors_reads_the_raw_output_as_theirs():
    """accuracy_authors applies their lines to the whole output, echoed prompt text included (arc.py:89-95)."""
    pd = pytest.importorskip("pandas")
    item = Item(id="q", question="Which gas do plants take in?", target="B",
                choices=("oxygen", "carbon dioxide", "helium", "argon"))
    outputs = ARC_OUTPUTS + ECHOED
    ns = _run_authors("arc.py", 89, 95, df=pd.DataFrame({"response": outputs}))
    theirs = [None if pd.isna(x) else x for x in ns["df"]["pred_answer"]]
    scores = [ArcChallenge().score(o, item) for o in outputs]
    assert [s.details["extracted_authors"] for s in scores] == theirs
    assert [s.extra["accuracy_authors"] for s in scores] == [float(t == "B") for t in theirs]
    assert theirs[len(ARC_OUTPUTS)] == "A" and scores[len(ARC_OUTPUTS)].extracted == "B"  # the echo decides theirs


@pytest.mark.parametrize("gpus", [1, 2, 4])
def test_paper_global_batch_holds_on_several_gpus(gpus, entries, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", str(gpus))  # what accelerate sets in each training process
    problems = [p for p in mismatches(load_suite(SUITE), entries) if p.startswith("training.global_batch")]
    assert not problems, problems
