"""tag_suggest_eval on 50k seeded synthetic messages whose phrase reliability mirrors PRODUCT.md's figures.

"my oily skin"/"我是油皮" declares oily only about half the time, plain "oily"/"出油" about a quarter; the
rest of the writers are mostly combination skin. Chinese and English, with a group the vocabulary lacks.
Run: DATABASE_URL=... python -m bench.tag_suggest (the database must hold the starter vocabulary).
"""

import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

from bench.common import machine_info, print_machine, write_results  # noqa: E402

FANS, MESSAGES = 10_000, 50_000
FILLER = ["请问有货吗", "多少钱", "什么时候发货", "thanks!", "is this in stock?", "包邮吗", "好的谢谢"]


def synth(rng: random.Random) -> tuple[list[str], list[str]]:
    messages, tags = ["fan_id,text"], ["fan_id,tag"]
    for fan in range(FANS):
        skin = rng.choices(["combination", "oily", "dry", "normal"], [0.45, 0.25, 0.2, 0.1])[0]
        diet = rng.choice(["vegan", "meat"])
        tags += [f"{fan},skin_type:{skin}", f"{fan},diet:{diet}"]
        said: list[str] = []
        # "my oily skin" is true about half the time: oily writers use it, and so do combination writers.
        if skin == "oily" and rng.random() < 0.5 or skin == "combination" and rng.random() < 0.28:
            said.append(rng.choice(["I have oily skin", "我是油皮", "my oily skin hates this"]))
        if skin == "dry" and rng.random() < 0.5 or skin == "combination" and rng.random() < 0.2:
            said.append(rng.choice(["I have dry skin", "我是干皮"]))
        if rng.random() < 0.3:  # plain "oily" about a quarter right
            said.append(rng.choice(["a bit oily", "夏天容易出油"]))
        if rng.random() < 0.6:  # the group the vocabulary lacks: a strong but imperfect signal
            honest = diet if rng.random() < 0.85 else ("meat" if diet == "vegan" else "vegan")
            said.append("我吃素" if honest == "vegan" else "I love steak")
        while len(said) < MESSAGES // FANS:
            said.append(rng.choice(FILLER))
        rng.shuffle(said)
        messages += [f'{fan},"{text}"' for text in said]
    return messages, tags


def main() -> None:
    import django

    django.setup()
    from django.core.management import call_command

    rng = random.Random(0)
    messages, tags = synth(rng)
    with tempfile.TemporaryDirectory() as tmp:
        m, t, out = Path(tmp, "m.csv"), Path(tmp, "t.csv"), Path(tmp, "out.json")
        m.write_text("\n".join(messages) + "\n", encoding="utf-8")
        t.write_text("\n".join(tags) + "\n", encoding="utf-8")
        started = time.perf_counter()
        call_command("tag_suggest_eval", messages=str(m), tags=str(t), json_path=str(out), seed=0)
        elapsed = time.perf_counter() - started
        import json

        report = json.loads(out.read_text(encoding="utf-8"))
    machine = machine_info(database_url=os.environ.get("DATABASE_URL", ""))
    print_machine(machine)
    figures = {
        "messages": len(messages) - 1,
        "fans": FANS,
        "tag_suggest_eval_s": round(elapsed, 2),
        "target_s": 120,
        "note": "2 shared cores, 5 engineers running at once: slower than usual under that load",
        "report": report,
    }
    print(f"tag_suggest_eval on {len(messages) - 1} messages: {elapsed:.1f} s")
    write_results("tag_suggest", machine, figures)


if __name__ == "__main__":
    main()
