"""`BackendLM`: lm-eval's `LM` interface over the run's own backend (the live engine of the round).

Log-likelihoods go to `backend.loglikelihood` in one batched call per lm-eval request list; generations to
`backend.generate_text` (contexts are already text: lm-eval renders the chat template through
`apply_chat_template` below, with the backend's tokenizer). As lm-eval's `hf` model does, trailing
whitespace of a context moves to the front of its continuation, and an empty context becomes the
tokenizer's BOS (else EOS) token. `until` stop strings cut the generated text afterwards.

Not computed: `is_greedy` (tasks whose output_type is `loglikelihood` are refused by run.check_supported);
`loglikelihood_rolling` scores a document in one window (no sliding windows over the model's context).
"""

from __future__ import annotations

from collections.abc import Callable

from lm_eval.api.instance import Instance
from lm_eval.api.model import LM

from groundfloor.backends.base import Backend, GenParams
from groundfloor.errors import UserError


def tokenizer_of(backend: Backend):
    """The transformers tokenizer behind a backend, or None (the fake backend has none)."""
    for obj in (backend, getattr(backend, "generator", None), getattr(backend, "scorer", None)):
        tok = getattr(obj, "tokenizer", None)
        if tok is not None:
            return tok
    return None


def move_spaces(context: str, continuation: str) -> tuple[str, str]:
    """Trailing whitespace of the context moves to the continuation (lm-eval's `_encode_pair`)."""
    n = len(context) - len(context.rstrip())
    return (context[:-n], context[-n:] + continuation) if n else (context, continuation)


def cut_at(text: str, until: list[str]) -> str:
    """The text before the first stop string."""
    for stop in until:
        if stop:
            text = text.split(stop, 1)[0]
    return text


def gen_params(kwargs: dict, base: GenParams) -> GenParams:
    """A request's decoding: lm-eval's gen_kwargs over the run's batch size and seed (greedy unless sampled)."""
    temperature = float(kwargs.get("temperature", 0.0) or 0.0)
    sample = bool(kwargs.get("do_sample", False)) and temperature > 0
    return GenParams(max_new_tokens=int(kwargs.get("max_gen_toks", 256)), temperature=temperature,
                     top_p=float(kwargs.get("top_p", 1.0) or 1.0), greedy=not sample,
                     batch_size=base.batch_size, seed=base.seed)


class BackendLM(LM):
    """lm-eval's model interface over a mipo-bench `Backend` (no second model load)."""

    def __init__(self, backend: Backend, params: GenParams, on_request: Callable[[int], None] | None = None):
        super().__init__()
        self.backend = backend
        self.params = params
        self.tokenizer = tokenizer_of(backend)
        self.on_request = on_request or (lambda n: None)

    # --- scoring ------------------------------------------------------------------------------
    def _prefix(self) -> str:
        tok = self.tokenizer
        if tok is None:
            return ""
        return tok.bos_token if tok.bos_token_id is not None else (tok.eos_token or "")

    def _scores(self, pairs: list[tuple[str, str]]) -> list[float]:
        pairs = [move_spaces(c, x) if c else (self._prefix(), x) for c, x in pairs]
        values = self.backend.loglikelihood(pairs, batch_size=self.params.batch_size)
        self.on_request(len(pairs))
        return [float(v) for v in values]

    def loglikelihood(self, requests: list[Instance]) -> list[tuple[float, bool]]:
        return [(v, False) for v in self._scores([tuple(r.args) for r in requests])]

    def loglikelihood_rolling(self, requests: list[Instance]) -> list[float]:
        return self._scores([("", r.args[0]) for r in requests])

    # --- generation ---------------------------------------------------------------------------
    def generate_until(self, requests: list[Instance]) -> list[str]:
        out: list[str | None] = [None] * len(requests)
        groups: dict[str, list[int]] = {}
        for i, r in enumerate(requests):
            groups.setdefault(repr(sorted((r.args[1] or {}).items())), []).append(i)
        for idx in groups.values():
            kwargs = dict(requests[idx[0]].args[1] or {})
            until = kwargs.get("until") or []
            until = [until] if isinstance(until, str) else list(until)
            gens = self.backend.generate_text([requests[i].args[0] for i in idx], gen_params(kwargs, self.params))
            for i, g in zip(idx, gens):
                out[i] = cut_at(g.text, until)
            self.on_request(len(idx))
        return out  # type: ignore[return-value]

    # --- chat template ------------------------------------------------------------------------
    def apply_chat_template(self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        if add_generation_prompt:
            return self.backend.render(chat_history)
        if self.tokenizer is None:
            raise UserError("lm-eval asked to continue an assistant message, which this backend cannot render")
        return self.tokenizer.apply_chat_template(chat_history, tokenize=False, add_generation_prompt=False,
                                                  continue_final_message=True)

    @property
    def tokenizer_name(self) -> str:
        return str(getattr(self.tokenizer, "name_or_path", "") or self.backend.name).replace("/", "__")

    def chat_template(self, chat_template: bool | str = False) -> str | None:
        return getattr(self.tokenizer, "chat_template", None) or ""

