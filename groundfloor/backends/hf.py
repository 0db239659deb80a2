"""The transformers backend: chat templates, continuous batching (greedy and seeded sampling), gathered log-probs."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from groundfloor.backends.base import Generation, GenParams
from groundfloor.backends.batcher import ContinuousBatcher, left_padded, supports_batcher
from groundfloor.backends.sampling import Sampler, plain_sampling
from groundfloor.backends.shared_context import shared_context_loglik, token_logprobs

STOP_TOKENS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<end_of_turn>")


def stop_token_ids(tokenizer) -> list[int]:
    """EOS plus the end-of-turn tokens the vocabulary knows."""
    ids = set()
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    vocab = tokenizer.get_vocab()
    ids.update(vocab[t] for t in STOP_TOKENS if t in vocab)
    return sorted(ids)


LOGITS_BUDGET_BYTES = 1 << 30  # fp32 logits kept per log-likelihood batch (Qwen's 152k vocabulary: 1,700 positions)


def logit_batches(order: list[int], keep: list[int], batch_size: int, vocab: int) -> list[list[int]]:
    """`order` cut into batches of at most `batch_size` whose kept fp32 logits stay under LOGITS_BUDGET_BYTES.

    A batch keeps rows x its longest `keep` x vocab logits; a long continuation (a 1,024-token answer on a
    1.5B model: 0.6 GB a row) gets a batch of its own instead of 8 of them at once (5 GB: OOM on 24 GB).
    """
    batches: list[list[int]] = []
    for i in order:
        cur = batches[-1] if batches else None
        widest = max([keep[j] for j in cur] + [keep[i]]) if cur else keep[i]
        if cur and len(cur) < batch_size and (len(cur) + 1) * widest * vocab * 4 <= LOGITS_BUDGET_BYTES:
            cur.append(i)
        else:
            batches.append([i])
    return batches


class HFBackend:
    """A transformers causal LM wrapped for evaluation and pair generation."""

    def __init__(self, model, tokenizer, name: str = "hf"):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.stop_ids = stop_token_ids(tokenizer)
        # decoding goes through the continuous batcher; HF generate where the model's cache or its
        # generation_config (repetition penalty, ...) needs more than the batcher does
        self.batcher = ContinuousBatcher(self.model, tokenizer.pad_token_id) \
            if supports_batcher(self.model) else None
        self.sample_in_batcher = plain_sampling(self.model.generation_config)

    @classmethod
    def load(cls, path: str, device: str = "cpu", dtype=torch.float32, adapter: str | None = None,
             name: str | None = None) -> HFBackend:
        """Load a model folder (and optionally a PEFT adapter, merged for speed)."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
        if adapter:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, adapter).merge_and_unload()
        model.to(device)
        return cls(model, tokenizer, name or path)

    @property
    def device(self):
        return next(self.model.parameters()).device

    def render(self, messages: list[dict[str, str]]) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def _encode(self, texts: list[str]) -> list[list[int]]:
        return [self.tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]

    def generate(self, prompts, params: GenParams,
                 on_done: Callable[[int, Generation], None] | None = None) -> list[Generation]:
        return self.generate_text([self.render(p) for p in prompts], params, on_done)

    @torch.inference_mode()
    def generate_text(self, texts: list[str], params: GenParams,
                      on_done: Callable[[int, Generation], None] | None = None) -> list[Generation]:
        """`generate` for prompts that are already text (no chat template applied here)."""
        encoded = self._encode(texts)
        order = sorted(range(len(texts)), key=lambda i: -len(encoded[i]))  # length buckets
        results: list[Generation | None] = [None] * len(texts)
        clock = [time.perf_counter()]

        def finish(i: int, toks: list[int], seconds: float | None = None) -> None:
            stop_at = next((k + 1 for k, t in enumerate(toks) if t in self.stop_ids), None)
            n_new = stop_at if stop_at is not None else len(toks)
            if seconds is None:  # wall time since the previous completion: they sum to the call's time
                now = time.perf_counter()
                seconds, clock[0] = now - clock[0], now
            text = self.tokenizer.decode(toks[:n_new], skip_special_tokens=True).strip()
            results[i] = Generation(text=text, n_prompt_tokens=len(encoded[i]), n_new_tokens=n_new, seconds=seconds,
                                    truncated=stop_at is None and n_new >= params.max_new_tokens, engine="hf")
            if on_done:
                on_done(i, results[i])

        sample = not params.greedy and params.temperature > 0
        if self.batcher is not None and (not sample or self.sample_in_batcher):
            top_k = self.model.generation_config.top_k
            sampler = Sampler(params.temperature, params.top_p, 50 if top_k is None else top_k,  # HF's default
                              params.seed) if sample else None
            self.batcher.run(encoded, order, params.max_new_tokens, params.batch_size, finish,
                             set(self.stop_ids), sampler)
            return results  # type: ignore[return-value]
        pad = self.tokenizer.pad_token_id
        for start in range(0, len(order), params.batch_size):
            idx = order[start:start + params.batch_size]
            ids, mask = left_padded([encoded[i] for i in idx], pad, self.device)
            width = ids.shape[1]
            kwargs = dict(max_new_tokens=params.max_new_tokens, do_sample=sample, pad_token_id=pad,
                          eos_token_id=self.stop_ids)
            if sample:
                torch.manual_seed(params.seed + start)
                kwargs.update(temperature=params.temperature, top_p=params.top_p)
            else:
                kwargs.update(temperature=None, top_p=None, top_k=None)
            t0 = time.perf_counter()
            out = self.model.generate(input_ids=ids, attention_mask=mask, **kwargs)
            elapsed = (time.perf_counter() - t0) / len(idx)
            for row, toks in enumerate(out[:, width:].cpu().tolist()):
                finish(idx[row], toks, elapsed)
        return results  # type: ignore[return-value]

    @torch.inference_mode()
    def loglikelihood(self, requests: list[tuple[str, str]], batch_size: int = 8) -> list[float]:
        """Sum of log p(continuation | context); lm-head applied only to the continuation positions.

        When contexts repeat (the choices of a multiple-choice item), each distinct context is encoded once.
        """
        cont_ids = [self.tokenizer(c, add_special_tokens=False)["input_ids"] for _, c in requests]
        groups: dict[str, list[int]] = {}
        for i, (ctx, _) in enumerate(requests):
            groups.setdefault(ctx, []).append(i)
        if self.batcher is not None and len(groups) < len(requests):
            members = list(groups.values())
            scores = shared_context_loglik(self.model, self._encode(list(groups)),
                                           [[cont_ids[i] for i in m] for m in members],
                                           self.tokenizer.pad_token_id, batch_size)
            out = [0.0] * len(requests)
            for m, vals in zip(members, scores):
                for i, v in zip(m, vals):
                    out[i] = v
            return out
        ctx_ids = self._encode([c for c, _ in requests])
        order = sorted(range(len(requests)), key=lambda i: -(len(ctx_ids[i]) + len(cont_ids[i])))
        out = [0.0] * len(requests)
        pad = self.tokenizer.pad_token_id
        vocab = int(self.model.config.vocab_size)
        for idx in logit_batches(order, [len(c) + 1 for c in cont_ids], batch_size, vocab):
            keep = max(len(cont_ids[i]) for i in idx) + 1
            ids, mask = left_padded([ctx_ids[i] + cont_ids[i] for i in idx], pad, self.device)
            pos = (mask.cumsum(-1) - 1).clamp(min=0)
            logits = self.model(input_ids=ids, attention_mask=mask, position_ids=pos, logits_to_keep=keep).logits
            for row, i in enumerate(idx):
                n = len(cont_ids[i])
                if n:
                    out[i] = token_logprobs(logits[row, -n - 1:-1], cont_ids[i])
        return out

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Tokens of each text as `loglikelihood` encodes a continuation."""
        return [len(ids) for ids in self._encode(texts)]

    def close(self) -> None:
        self.model = self.batcher = None
        import gc

        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
