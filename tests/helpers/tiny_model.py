"""A tiny random-init Llama with a small BPE tokenizer trained on the spot (ChatML template).

Used by unit tests: a full generate -> score -> DPO cycle takes well under a second per step.
"""

from __future__ import annotations

from pathlib import Path

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
CORPUS = [
    "The answer is: A. The answer is: B. The answer is: C. The answer is: D.",
    "Solve the following math problem step by step. #### 42 #### 7 #### 1,234",
    "Question: What is 2 + 3? Answer: 5. How many apples are left? 12 - 4 = 8",
    "Give me a short answer and respect these requirements about me: I am vegetarian.",
    "What should I cook for dinner? Keep every answer under 40 words. TL;DR: pasta with tomatoes.",
    "el plan es simple y es para usted; le plan est simple; der plan ist einfach",
    "- first point\n- second point\n1. step one\n2. step two",
] * 20


def build_tiny_model(folder: Path, vocab_size: int = 400, seed: int = 0) -> Path:
    """Create (once) a tiny Llama + tokenizer in `folder` and return it."""
    if (folder / "config.json").exists():
        return folder
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   bos_token=None, unk_token=None)
    fast.chat_template = CHAT_TEMPLATE
    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=2048,
                      eos_token_id=fast.eos_token_id, pad_token_id=fast.pad_token_id, bos_token_id=None,
                      tie_word_embeddings=False)
    model = LlamaForCausalLM(cfg)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(folder))
    fast.save_pretrained(str(folder))
    return folder


def make_adapter(base: str, out: Path, r: int = 8, std: float = 0.02) -> str:
    """A LoRA adapter on every linear layer of `base` (seed 0) whose B matrices are drawn N(0, std), so it
    changes the model's outputs; saved to `out`, whose path is returned."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base),
                           LoraConfig(r=r, lora_alpha=2 * r, target_modules="all-linear", task_type="CAUSAL_LM"))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, std)
    model.save_pretrained(str(out))
    return str(out)
