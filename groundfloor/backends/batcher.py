"""Continuous batching for the transformers backend (greedy and per-request seeded sampling).

Rows leave the batch when they emit a stop token and waiting prompts take their slots at once, so
the batch stays full instead of decoding padding (HF `generate`) or shrinking (retire-only). The
prompt prefix shared by every request (system prompt, few-shot turns) is encoded once and copied
into each new row's cache. Keys and values live in buffers with spare columns, so a decode step
writes one column instead of concatenating the whole cache (`DynamicLayer.update`). The arithmetic
per row is `model.generate`'s: the next token from the last logits, positions from the mask.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

from groundfloor.backends.sampling import Sampler

MIN_SHARED_PREFIX = 8  # tokens; a shorter common prefix is not worth a separate forward


class SlotLayer(DynamicLayer):
    """A cache layer whose keys/values are views of buffers with spare columns."""

    def __init__(self):
        super().__init__()
        self.kbuf: torch.Tensor | None = None
        self.vbuf: torch.Tensor | None = None
        self.n = 0

    def set(self, keys: torch.Tensor, values: torch.Tensor, spare: int = 64) -> None:
        """Replace the content with `keys`/`values` ([batch, heads, length, dim])."""
        b, h, t, d = keys.shape
        self.kbuf = keys.new_zeros((b, h, t + spare, d))
        self.vbuf = values.new_zeros((b, h, t + spare, values.shape[-1]))
        self.kbuf[:, :, :t] = keys
        self.vbuf[:, :, :t] = values
        self.n = t
        self.dtype, self.device, self.is_initialized = keys.dtype, keys.device, True
        self._views()

    def _views(self) -> None:
        self.keys = self.kbuf[:, :, :self.n]
        self.values = self.vbuf[:, :, :self.n]

    def update(self, key_states, value_states, *args, **kwargs):
        if self.kbuf is None:
            self.set(key_states, value_states)
            return self.keys, self.values
        length = key_states.shape[-2]
        if self.n + length > self.kbuf.shape[2]:
            self.set(self.keys, self.values, spare=max(64, self.n + length))
        self.kbuf[:, :, self.n:self.n + length] = key_states
        self.vbuf[:, :, self.n:self.n + length] = value_states
        self.n += length
        self._views()
        return self.keys, self.values

    def select(self, rows: torch.Tensor) -> None:
        self.kbuf, self.vbuf = self.kbuf[rows], self.vbuf[rows]
        self._views()

    def trim_left(self, cols: int) -> None:
        self.kbuf, self.vbuf = self.kbuf[:, :, cols:], self.vbuf[:, :, cols:]
        self.n -= cols
        self._views()


def slot_cache(config, layers: list[tuple[torch.Tensor, torch.Tensor]] | None = None) -> DynamicCache | None:
    """A DynamicCache of SlotLayers (filled from `layers` if given); None if the model needs other layer types."""
    cache = DynamicCache(config=config)
    if not all(type(layer) is DynamicLayer for layer in cache.layers):
        return None  # sliding-window / hybrid models keep HF's own cache classes
    cache.layers = [SlotLayer() for _ in cache.layers]
    for layer, (k, v) in zip(cache.layers, layers or []):
        layer.set(k, v)
    return cache


def supports_batcher(model) -> bool:
    """True when the model's cache is plain full-attention DynamicLayers."""
    try:
        return slot_cache(model.config) is not None
    except Exception:  # noqa: BLE001 - exotic configs fall back to HF generate
        return False


def common_prefix(seqs: list[list[int]]) -> int:
    """Length of the token prefix all sequences share, leaving at least one token of each."""
    if len(seqs) < 2:
        return 0
    limit = min(len(s) for s in seqs) - 1
    first = seqs[0]
    n = 0
    while n < limit and all(s[n] == first[n] for s in seqs):
        n += 1
    return n if n >= MIN_SHARED_PREFIX else 0


@dataclass
class _Batch:
    """The rows being decoded: their cache, mask, last positions, next tokens and request indices."""

    cache: DynamicCache
    mask: torch.Tensor
    last: torch.Tensor
    nxt: torch.Tensor
    items: list[int]

    def select(self, keep: list[int]) -> None:
        rows = torch.tensor(keep, device=self.mask.device)
        for layer in self.cache.layers:
            layer.select(rows)
        self.mask, self.last, self.nxt = self.mask[rows], self.last[rows], self.nxt[rows]
        self.items = [self.items[r] for r in keep]
        lead = int((self.mask.sum(0) > 0).int().argmax())  # columns no remaining row attends to
        if lead:
            for layer in self.cache.layers:
                layer.trim_left(lead)
            self.mask = self.mask[:, lead:]

    def merge(self, other: _Batch) -> None:
        """Append `other`'s rows, left-padding whichever cache is shorter."""
        width = max(self.mask.shape[1], other.mask.shape[1])
        for mine, theirs in zip(self.cache.layers, other.cache.layers):
            keys = torch.cat([_pad_left(mine.keys, width), _pad_left(theirs.keys, width)])
            values = torch.cat([_pad_left(mine.values, width), _pad_left(theirs.values, width)])
            mine.set(keys, values)
        self.mask = torch.cat([_pad_left(self.mask, width), _pad_left(other.mask, width)])
        self.last = torch.cat([self.last, other.last])
        self.nxt = torch.cat([self.nxt, other.nxt])
        self.items += other.items


def left_padded(seqs: list[list[int]], pad: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, attention mask) of token sequences left-padded to the longest one."""
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for row, seq in enumerate(seqs):
        ids[row, width - len(seq):] = torch.tensor(seq, dtype=torch.long)
        mask[row, width - len(seq):] = 1
    return ids.to(device), mask.to(device)


def _pad_left(x: torch.Tensor, width: int) -> torch.Tensor:
    """Zero-pad the sequence dimension (dim 1 of a mask, dim 2 of a KV tensor) on the left to `width`."""
    dim = 1 if x.dim() == 2 else 2
    missing = width - x.shape[dim]
    if missing == 0:
        return x
    shape = list(x.shape)
    shape[dim] = missing
    return torch.cat([x.new_zeros(shape), x], dim=dim)


class ContinuousBatcher:
    """Greedy or sampled decoding of many prompts with at most `batch_size` rows in flight."""

    def __init__(self, model, pad_id: int):
        self.model = model
        self.pad = pad_id

    @property
    def device(self):
        return next(self.model.parameters()).device

    @torch.inference_mode()
    def run(self, prompts: list[list[int]], order: list[int], max_new: int, batch_size: int,
            on_done: Callable[[int, list[int]], None], stop: set[int], sampler: Sampler | None = None) -> None:
        """Decode every prompt (taken in `order`); `on_done(index, tokens)` as each one finishes (a `stop`
        token or `max_new` tokens).

        Greedy without a sampler; with one, request i samples with its own generator (see sampling.py).
        """
        gens = sampler.generators(prompts, self.device) if sampler else None

        def pick(logits: torch.Tensor, items: list[int]) -> torch.Tensor:
            return sampler.pick(logits, [gens[i] for i in items]) if sampler else logits.argmax(-1)

        if max_new <= 0:
            for i in order:
                on_done(i, [])
            return
        shared = common_prefix(prompts)
        prefix_kv = self._prefix(prompts[0][:shared]) if shared else None
        pending = deque(order)
        toks: dict[int, list[int]] = {}
        batch: _Batch | None = None
        while pending or batch is not None:
            free = batch_size - (len(batch.items) if batch else 0)
            if free and pending:
                new = [pending.popleft() for _ in range(min(free, len(pending)))]
                fresh = self._prefill([prompts[i][shared:] for i in new], new, shared, prefix_kv, pick)
                for i in new:
                    toks[i] = []
                if batch is None:
                    batch = fresh
                else:
                    batch.merge(fresh)
                self._record(batch, toks, rows=range(len(batch.items) - len(new), len(batch.items)))
            batch = self._retire(batch, toks, max_new, stop, on_done)
            if batch is None or (pending and len(batch.items) < batch_size):
                continue  # refill free slots before the next decode step
            batch.mask = torch.cat([batch.mask, batch.mask.new_ones((batch.mask.shape[0], 1))], dim=1)
            batch.last = batch.last + 1
            logits = self.model(input_ids=batch.nxt[:, None], attention_mask=batch.mask,
                                position_ids=batch.last[:, None], past_key_values=batch.cache,
                                use_cache=True).logits
            batch.nxt = pick(logits[:, -1], batch.items)
            self._record(batch, toks, rows=range(len(batch.items)))

    def _prefix(self, ids: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Keys/values of the shared prefix, computed once at batch 1."""
        cache = slot_cache(self.model.config)
        x = torch.tensor([ids], device=self.device)
        self.model(input_ids=x, past_key_values=cache, use_cache=True, logits_to_keep=1)
        return [(layer.keys, layer.values) for layer in cache.layers]

    def _prefill(self, suffixes: list[list[int]], items: list[int], shared: int,
                 prefix_kv: list[tuple[torch.Tensor, torch.Tensor]] | None, pick) -> _Batch:
        """Encode new rows (left-padded among themselves) after the shared prefix; returns their batch."""
        ids, mask = left_padded(suffixes, self.pad, self.device)
        pos = shared + (mask.cumsum(-1) - 1).clamp(min=0)
        rows = len(suffixes)
        if prefix_kv:
            cache = slot_cache(self.model.config, [(k.expand(rows, -1, -1, -1), v.expand(rows, -1, -1, -1))
                                                   for k, v in prefix_kv])
            mask = torch.cat([mask.new_ones((rows, shared)), mask], dim=1)
        else:
            cache = slot_cache(self.model.config)
        logits = self.model(input_ids=ids, attention_mask=mask, position_ids=pos, past_key_values=cache,
                            use_cache=True, logits_to_keep=1).logits
        return _Batch(cache=cache, mask=mask, last=pos[:, -1], nxt=pick(logits[:, -1], items), items=list(items))

    @staticmethod
    def _record(batch: _Batch, toks: dict[int, list[int]], rows) -> None:
        values = batch.nxt.tolist()
        for r in rows:
            toks[batch.items[r]].append(values[r])

    @staticmethod
    def _retire(batch: _Batch, toks: dict[int, list[int]], max_new: int, stop: set[int],
                on_done: Callable[[int, list[int]], None]) -> _Batch | None:
        """Hand finished rows to `on_done` and drop them; None once no row is left."""
        keep = []
        for r, i in enumerate(batch.items):
            seq = toks[i]
            if seq[-1] in stop or len(seq) >= max_new:
                on_done(i, toks.pop(i))
            else:
                keep.append(r)
        if not keep:
            return None
        if len(keep) < len(batch.items):
            batch.select(keep)
        return batch
