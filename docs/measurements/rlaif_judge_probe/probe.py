"""How often SmolLM2-135M-Instruct, as the rlaif judge, gives a readable 1-5 score, by reply length budget."""
import torch
from groundfloor.backends.base import GenParams
from groundfloor.backends.select import load_backend
from mipo.rewards import rubric_messages
from tasks.judge import parse_score
from tasks.registry import TaskRegistry

task = TaskRegistry().get("profile_prefs")
split = task.load(offline=True)
items = split.train_items[:12]
path = "/root/.cache/mipo-bench/models/smollm2-135m-instruct/safetensors"
be = load_backend("hf", path, None, "cpu", torch.float32, "judge")
answers = [g.text for g in be.generate([task.train_messages(it) for it in items], GenParams(max_new_tokens=96, greedy=True, batch_size=12))]
chats = [c for it, a in zip(items, answers) for c in rubric_messages(task, it, a)]
for budget in (16, 64):
    replies = [g.text for g in be.generate(chats, GenParams(max_new_tokens=budget, greedy=True, temperature=0.0, batch_size=16))]
    parsed = [parse_score(r) for r in replies]
    print(f"max_new_tokens {budget}: {len(chats)} judge calls, unreadable {sum(p is None for p in parsed)}; "
          f"scores {[p for p in parsed if p is not None][:20]}")
    for r in replies[:4]:
        print("   reply:", repr(r[:160]))

qpath = "/root/.cache/mipo-bench/models/qwen2.5-coder-0.5b-instruct/safetensors"
judge = load_backend("hf", qpath, None, "cpu", torch.float32, "qwen-judge")
replies = [g.text for g in judge.generate(chats, GenParams(max_new_tokens=16, greedy=True, temperature=0.0, batch_size=16))]
parsed = [parse_score(r) for r in replies]
print(f"Qwen2.5-Coder-0.5B judge, max_new_tokens 16: {len(chats)} calls, unreadable {sum(p is None for p in parsed)}; "
      f"scores {[p for p in parsed if p is not None]}")
for r in replies[:3]:
    print("   reply:", repr(r[:100]))
