"""The transformers backend: chat templates, length-bucketed batched generation, gathered log-probs."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from harness.backends.base import GenParams, Generation

STOP_TOKENS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<end_of_turn>")


def stop_token_ids(tokenizer) -> list[int]:
    """EOS plus the end-of-turn tokens the vocabulary knows."""
    ids = set()
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    vocab = tokenizer.get_vocab()
    ids.update(vocab[t] for t in STOP_TOKENS if t in vocab)
    return sorted(ids)


class HFBackend:
    """A transformers causal LM wrapped for evaluation and pair generation."""

    def __init__(self, model, tokenizer, name: str = "hf"):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.stop_ids = stop_token_ids(tokenizer)

    @classmethod
    def load(cls, path: str, device: str = "cpu", dtype=torch.float32, adapter: str | None = None,
             name: str | None = None) -> "HFBackend":
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

    @torch.inference_mode()
    def generate(self, prompts, params: GenParams,
                 on_done: Callable[[int, Generation], None] | None = None) -> list[Generation]:
        texts = [self.render(p) for p in prompts]
        encoded = self._encode(texts)
        order = sorted(range(len(texts)), key=lambda i: -len(encoded[i]))  # length buckets
        results: list[Generation | None] = [None] * len(texts)
        pad = self.tokenizer.pad_token_id
        for start in range(0, len(order), params.batch_size):
            idx = order[start:start + params.batch_size]
            width = max(len(encoded[i]) for i in idx)
            ids = torch.full((len(idx), width), pad, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for row, i in enumerate(idx):
                seq = encoded[i]
                ids[row, width - len(seq):] = torch.tensor(seq)
                mask[row, width - len(seq):] = 1
            sample = not params.greedy and params.temperature > 0
            kwargs = dict(max_new_tokens=params.max_new_tokens, do_sample=sample, pad_token_id=pad,
                          eos_token_id=self.stop_ids)
            if sample:
                torch.manual_seed(params.seed + start)
                kwargs.update(temperature=params.temperature, top_p=params.top_p)
            else:
                kwargs.update(temperature=None, top_p=None, top_k=None)
            t0 = time.perf_counter()
            if sample:
                out = self.model.generate(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                                          **kwargs)
                rows = out[:, width:].cpu().tolist()
            else:
                rows = self._greedy(ids.to(self.device), mask.to(self.device), params.max_new_tokens)
            elapsed = (time.perf_counter() - t0) / len(idx)
            for row, i in enumerate(idx):
                toks = rows[row]
                n_new = next((k + 1 for k, t in enumerate(toks) if t in self.stop_ids), len(toks))
                text = self.tokenizer.decode(toks[:n_new], skip_special_tokens=True).strip()
                gen = Generation(text=text, n_prompt_tokens=len(encoded[i]), n_new_tokens=n_new, seconds=elapsed)
                results[i] = gen
                if on_done:
                    on_done(i, gen)
        return results  # type: ignore[return-value]

    def _greedy(self, ids: torch.Tensor, mask: torch.Tensor, max_new: int) -> list[list[int]]:
        """Greedy decoding of a left-padded batch that retires rows as they hit a stop token.

        Same arithmetic as `model.generate(do_sample=False)` (argmax of the last-position logits,
        positions from the attention mask), but finished rows leave the batch and the KV cache, so
        the remaining steps run on fewer rows instead of decoding padding for the longest answer.
        """
        from transformers import DynamicCache

        if max_new <= 0:
            return [[] for _ in range(ids.shape[0])]
        stop = set(self.stop_ids)
        cache = DynamicCache(config=self.model.config)
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        logits = self.model(input_ids=ids, attention_mask=mask, position_ids=pos, past_key_values=cache,
                            use_cache=True, logits_to_keep=1).logits
        nxt = logits[:, -1].argmax(-1)
        last = pos[:, -1]
        alive = list(range(ids.shape[0]))
        toks: list[list[int]] = [[] for _ in alive]
        for step in range(max_new):
            keep = []
            for r, t in enumerate(nxt.tolist()):
                toks[alive[r]].append(t)
                if t not in stop:
                    keep.append(r)
            if not keep or step == max_new - 1:
                break
            if len(keep) < len(alive):
                sel = torch.tensor(keep, device=ids.device)
                cache.batch_select_indices(sel)
                mask, last, nxt = mask[sel], last[sel], nxt[sel]
                alive = [alive[r] for r in keep]
            mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=-1)
            last = last + 1
            logits = self.model(input_ids=nxt[:, None], attention_mask=mask, position_ids=last[:, None],
                                past_key_values=cache, use_cache=True).logits
            nxt = logits[:, -1].argmax(-1)
        return toks

    @torch.inference_mode()
    def loglikelihood(self, requests: list[tuple[str, str]], batch_size: int = 8) -> list[float]:
        """Sum of log p(continuation | context); lm-head applied only to the continuation positions."""
        ctx_ids = self._encode([c for c, _ in requests])
        cont_ids = [self.tokenizer(c, add_special_tokens=False)["input_ids"] for _, c in requests]
        order = sorted(range(len(requests)), key=lambda i: -(len(ctx_ids[i]) + len(cont_ids[i])))
        out = [0.0] * len(requests)
        pad = self.tokenizer.pad_token_id
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            seqs = [(ctx_ids[i] + cont_ids[i]) for i in idx]
            width = max(len(s) for s in seqs)
            keep = max(len(cont_ids[i]) for i in idx) + 1
            ids = torch.full((len(idx), width), pad, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for row, s in enumerate(seqs):
                ids[row, width - len(s):] = torch.tensor(s)
                mask[row, width - len(s):] = 1
            pos = (mask.cumsum(-1) - 1).clamp(min=0)
            logits = self.model(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                                position_ids=pos.to(self.device), logits_to_keep=keep).logits.float()
            for row, i in enumerate(idx):
                n = len(cont_ids[i])
                if n == 0:
                    continue
                lg = logits[row, -n - 1:-1]
                target = torch.tensor(cont_ids[i], device=lg.device)
                lp = lg.gather(-1, target[:, None]).squeeze(-1) - torch.logsumexp(lg, dim=-1)
                out[i] = float(lp.sum())
        return out

    def close(self) -> None:
        self.model = None
        import gc

        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
