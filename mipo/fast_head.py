"""The `fast` training route: TRL's fused LM head projected only where a label is scored.

TRL (1.16) patches the model so that `model(..., labels=..., fused_lm_head=True)` returns per-token
log-probs without materialising the logits. On CUDA/XPU it projects only the positions whose label
is not -100; elsewhere (CPU) it projects every position, prompt and padding included, and folds
every requested statistic (entropy, mean logit, top-1) over the 49k-152k vocabulary. Here the same
kernel (`trl.kernels.chunked_logprob.ChunkedLogProbFunction`) runs on the labelled rows only, as TRL
does on CUDA, and a call without gradients (the DPO reference forward, which reads only `log_probs`)
computes log-probs alone. Each labelled token's log-prob is the same computation as TRL's, so the
loss is unchanged up to float summation order.
"""

from __future__ import annotations

import types

import torch

# statistics the trainer's own metrics read from the policy forward (TRL 1.16: DPOTrainer / SFTTrainer)
DPO_OUTPUTS = ("log_probs", "entropy", "mean_logits", "is_top1")
SFT_OUTPUTS = ("log_probs", "entropy", "is_top1")
VOCAB_CHUNK = 32768  # as TRL's _CHUNKED_LOGPROB_CHUNK_SIZE
_SCALES = ("final_logit_softcapping", "logit_scale", "output_multiplier", "lm_head_multiplier", "logits_scaling")


def supported(model) -> bool:
    """True for plain causal LMs (no logit scaling/softcapping, no MoE router loss) that TRL patched."""
    cfg = model.config.get_text_config()
    plain = all(getattr(cfg, k, None) is None for k in _SCALES) and not getattr(cfg, "output_router_logits", False)
    return plain and cfg is model.config and "forward" in vars(model)


def _scatter(x: torch.Tensor | None, mask: torch.Tensor) -> torch.Tensor | None:
    return None if x is None else x.new_zeros(mask.shape).masked_scatter(mask, x)


def install(model, outputs: tuple[str, ...]) -> bool:
    """Replace TRL's fused-head forward of `model` (the base model under PEFT) by the labelled-rows-only one.

    Returns False (TRL's forward kept) where the model is not `supported`.
    """
    if not supported(model):
        return False
    from trl.kernels.chunked_logprob import ChunkedLogProbFunction
    from trl.trainer.utils import FusedCausalLMOutput

    trl_forward = model.forward

    def forward(self, *args, fused_lm_head=False, labels=None, shift_labels=None, num_items_in_batch=None, **kw):
        if not fused_lm_head or shift_labels is not None or kw.get("output_router_logits"):
            return trl_forward(*args, fused_lm_head=fused_lm_head, labels=labels, shift_labels=shift_labels,
                               num_items_in_batch=num_items_in_batch, **kw)
        kw["use_cache"] = False
        hidden = self.base_model(*args, **kw).last_hidden_state[:, :-1]
        labels = labels[:, 1:].to(hidden.device)
        mask = labels != -100
        head = self.get_output_embeddings()
        wanted = outputs if torch.is_grad_enabled() else ("log_probs",)
        per_token = ChunkedLogProbFunction.apply(hidden[mask], head.weight, head.bias, labels[mask], 1.0,
                                                 VOCAB_CHUNK, None, 1.0, wanted)
        log_probs, entropy, log_sum_sq, mean_logits, is_top1 = (_scatter(x, mask) for x in per_token)
        count = mask.sum().clamp(min=1) if num_items_in_batch is None else num_items_in_batch
        return FusedCausalLMOutput(loss=-log_probs.sum() / count, log_probs=log_probs, entropy=entropy,
                                   log_sum_sq_probs=log_sum_sq, mean_logits=mean_logits, is_top1=is_top1,
                                   label_mask=mask)

    model.forward = types.MethodType(forward, model)
    return True


def install_on_trainer(trainer, outputs: tuple[str, ...]) -> bool:
    """`install` on the trainer's policy (its base model under PEFT) and on its separate reference, if any."""
    model = trainer.model.get_base_model() if hasattr(trainer.model, "get_base_model") else trainer.model
    done = install(model, outputs)
    ref = getattr(trainer, "ref_model", None)
    if ref is not None:
        done = install(trainer.accelerator.unwrap_model(ref), ("log_probs",)) and done
    return done


def training_route(route: str, device: str) -> str:
    """`training.route` resolved: auto = fast on CPU (TRL already projects only scored tokens on CUDA)."""
    return "fast" if route == "fast" or (route == "auto" and device == "cpu") else "trl"


def apply_route(trainer, route: str, device: str, outputs: tuple[str, ...]) -> str:
    """Install the fast head where the route asks for it and the model allows; the route that really runs."""
    if training_route(route, device) == "fast" and install_on_trainer(trainer, outputs):
        return "fast"
    return "trl"
