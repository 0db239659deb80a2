"""Log-likelihood of several continuations of one context, encoding the context once.

Multiple-choice scoring asks for log p(choice | question) for every choice of a question. The flat
path runs question + choice as one sequence per choice; here the question is encoded once, its
keys/values are copied to one row per choice, and only the choice tokens are run on top. The first
choice token is scored from the context's last logits, the others from the choice pass.
"""

from __future__ import annotations

import torch

from groundfloor.backends.batcher import left_padded, slot_cache


def token_logprobs(logits: torch.Tensor, targets: list[int]) -> float:
    """Sum of log-softmax(logits)[target] over positions (a gather, not a full log_softmax)."""
    lg = logits.float()
    t = torch.tensor(targets, device=lg.device)
    return float((lg.gather(-1, t[:, None]).squeeze(-1) - torch.logsumexp(lg, dim=-1)).sum())


@torch.inference_mode()
def shared_context_loglik(model, contexts: list[list[int]], conts: list[list[list[int]]], pad: int,
                          batch_size: int) -> list[list[float]]:
    """Scores for `conts[c][k]` given `contexts[c]`; contexts are run `batch_size` at a time."""
    device = next(model.parameters()).device
    out: list[list[float]] = [[0.0] * len(cs) for cs in conts]
    order = sorted(range(len(contexts)), key=lambda c: -len(contexts[c]))
    for start in range(0, len(order), batch_size):
        group = order[start:start + batch_size]
        ids, mask = left_padded([contexts[c] for c in group], pad, device)
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        cache = slot_cache(model.config)
        last = model(input_ids=ids, attention_mask=mask, position_ids=pos, past_key_values=cache,
                     use_cache=True, logits_to_keep=1).logits[:, -1]
        jobs = []  # (context row, context index, choice index) for choices longer than one token
        for row, c in enumerate(group):
            for k, cont in enumerate(conts[c]):
                if cont:
                    out[c][k] = token_logprobs(last[row:row + 1], cont[:1])
                if len(cont) > 1:
                    jobs.append((row, c, k))
        for j in range(0, len(jobs), batch_size):
            _score_tails(model, cache, mask, pos[:, -1], jobs[j:j + batch_size], conts, pad, out)
    return out


def _score_tails(model, cache, mask, last_pos, jobs, conts, pad, out) -> None:
    """Run choice tokens 1..n-1 on copies of their context rows; add log p(token k | context, tokens < k)."""
    rows = torch.tensor([r for r, _, _ in jobs], device=mask.device)
    tails = [conts[c][k][:-1] for _, c, k in jobs]  # inputs; targets are the tokens after each
    width = max(len(t) for t in tails)
    ids = torch.full((len(jobs), width), pad, dtype=torch.long)
    tail_mask = torch.zeros((len(jobs), width), dtype=torch.long)
    for row, t in enumerate(tails):  # right-padded: padding after a row's tokens cannot change them
        ids[row, :len(t)] = torch.tensor(t)
        tail_mask[row, :len(t)] = 1
    ids, tail_mask = ids.to(mask.device), tail_mask.to(mask.device)
    copy = slot_cache(model.config, [(layer.keys[rows], layer.values[rows]) for layer in cache.layers])
    pos = last_pos[rows][:, None] + 1 + torch.arange(width, device=mask.device)[None]
    logits = model(input_ids=ids, attention_mask=torch.cat([mask[rows], tail_mask], dim=1), position_ids=pos,
                   past_key_values=copy, use_cache=True).logits
    for row, (_, c, k) in enumerate(jobs):
        n = len(tails[row])
        out[c][k] += token_logprobs(logits[row, :n], conts[c][k][1:])
