"""Measure the tag suggester honestly: learn from 70% of the fans, report calibration on the other 30%."""

import csv
import io
import json
import random
from argparse import ArgumentParser
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from core.errors import Invalid
from fans.bot.phrases import phrases_find
from fans.bot.suggester import DEFAULT_THRESHOLD, model_learn, shown, suggest, text_features
from fans.crm.csvio import decode_csv

BINS = 10


def _read(path: str, required: tuple[str, ...]) -> list[dict[str, str]]:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text, _encoding = decode_csv(raw)
    except Invalid:
        raise CommandError(f"{path}: unknown encoding (use UTF-8 or GBK)") from None
    rows = list(csv.DictReader(io.StringIO(text)))
    if not rows:
        raise CommandError(f"{path} is empty")
    missing = [c for c in required if c not in (rows[0].keys() if rows else ())]
    if missing:
        raise CommandError(f"{path} lacks the column(s) {', '.join(missing)}")
    return rows


def _platform_vocabulary() -> tuple[dict[str, object], set[str], dict[str, float]]:
    """The platform phrase rules (phrase → tag string) and single-choice groups; empty without a database."""
    try:
        from fans.bot.models import PhraseRule
        from fans.crm.models import TagChoice, TagGroup

        rules: dict[str, object] = {
            r.phrase: f"{r.tag.group.code}:{r.tag.code}"
            for r in PhraseRule.objects.filter(shop__isnull=True, is_active=True).select_related("tag__group")
        }
        priors = {
            r.phrase: r.confidence for r in PhraseRule.objects.filter(shop__isnull=True, is_active=True)
        }
        single = set(
            TagGroup.objects.filter(shop__isnull=True, choice=TagChoice.SINGLE).values_list("code", flat=True)
        )
    except DatabaseError as exc:
        raise CommandError(f"cannot read the tag vocabulary: {exc}".splitlines()[0]) from None
    return rules, single, priors


def _bins_and_ece(pairs: list[tuple[float, int]]) -> tuple[list[dict[str, Any]], float | None]:
    bins: list[list[tuple[float, int]]] = [[] for _ in range(BINS)]
    for conf, ok in pairs:
        bins[min(int(conf * BINS), BINS - 1)].append((conf, ok))
    out, ece = [], 0.0
    for i, members in enumerate(bins):
        n = len(members)
        prec = sum(ok for _c, ok in members) / n if n else None
        mean = sum(c for c, _ok in members) / n if n else None
        out.append(
            {"lo": i / BINS, "hi": (i + 1) / BINS, "count": n, "precision": prec, "mean_confidence": mean}
        )
        if n:
            ece += n / len(pairs) * abs(prec - mean)  # type: ignore[operator]
    return out, (round(ece, 4) if pairs else None)


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


class Command(BaseCommand):
    help = "Evaluate tag suggestions from chat text: coverage, precision, calibration. See docs/tag-suggest-eval.md."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--messages", required=True, help="CSV: fan_id,text[,sent_at]")
        parser.add_argument("--tags", required=True, help="CSV: fan_id,tag (group:value)")
        parser.add_argument("--json", dest="json_path", required=True)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--threshold", type=float, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        threshold = options["threshold"]
        if threshold is None:
            threshold = getattr(settings, "FANSI_TAG_SUGGEST_THRESHOLD", DEFAULT_THRESHOLD)
        messages = _read(options["messages"], ("fan_id", "text"))
        tag_rows = _read(options["tags"], ("fan_id", "tag"))
        rules, single, priors = _platform_vocabulary()

        labels: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for row in tag_rows:
            fan, tag = (row["fan_id"] or "").strip(), (row["tag"] or "").strip()
            group, sep, value = tag.partition(":")
            if not sep or not group or not value:
                raise CommandError(f'tag "{tag}" of fan {fan} has no group (write group:value)')
            labels[fan][group].add(value)
        known_groups = {g for groups in labels.values() for g in groups}
        for fan, groups in labels.items():
            for group, values in groups.items():
                if group in single and len(values) > 1:
                    tie = ", ".join(f"{group}:{v}" for v in sorted(values))
                    raise CommandError(
                        f"fan {fan} has more than one value of single-choice group {group}: {tie}"
                    )
        # A group the vocabulary lacks is single-choice when no fan holds two of its values.
        for group in known_groups:
            if group not in single and all(len(g.get(group, ())) <= 1 for g in labels.values()):
                single.add(group)

        texts: dict[str, list[str]] = defaultdict(list)
        for row in messages:
            texts[(row["fan_id"] or "").strip()].append(row["text"] or "")
        without_messages = sorted(f for f in labels if f not in texts)
        fans = sorted(f for f in labels if f in texts)
        rng = random.Random(options["seed"])
        rng.shuffle(fans)
        n_test = round(len(fans) * 0.3)
        test, train = fans[:n_test], fans[n_test:]
        n_calib = round(len(train) * 0.3)
        calib, fit = train[:n_calib], train[n_calib:]

        feats = {f: text_features(texts[f], rules, words=True) for f in fans}
        model = model_learn(
            fit={f: feats[f] for f in fit},
            calib={f: feats[f] for f in calib},
            labels=labels,
            rules=rules,
            single=single,
        )
        majority: dict[str, str] = {}
        counts: dict[str, Counter[str]] = defaultdict(Counter)
        for f in train:
            for group, values in labels[f].items():
                counts[group].update(values)
        for group, c in counts.items():
            majority[group] = c.most_common(1)[0][0]

        per: dict[str, dict[str, Any]] = defaultdict(
            lambda: {"fans": 0, "cands": [], "shown": [], "covered": 0, "maj": 0, "rule": []}
        )
        for f in test:
            held = labels[f]
            cands = suggest(texts=texts[f], model=model, words=True)
            best_rule: dict[str, tuple[float, str]] = {}
            for m in phrases_find(" \n".join(texts[f]), rules):
                tag = str(m.key)
                group = tag.partition(":")[0]
                if priors.get(m.phrase, 0) > best_rule.get(group, (-1.0, ""))[0]:
                    best_rule[group] = (priors.get(m.phrase, 0), tag)
            for group, values in held.items():
                g = per[group]
                g["fans"] += 1
                mine = [c for c in cands if c.tag.partition(":")[0] == group]
                ok = [(c.confidence, int(c.tag.partition(":")[2] in values)) for c in mine]
                g["cands"].extend(ok)
                visible = [p for c, p in zip(mine, ok, strict=True) if c in shown(mine, threshold)]
                g["shown"].extend(visible)
                g["covered"] += bool(visible)
                g["maj"] += int(majority.get(group) in values)
                if group in best_rule:
                    g["rule"].append(int(best_rule[group][1].partition(":")[2] in values))
                # Per fan, the best shown confidence: ranks fans for "precision at the rules' coverage".
                g.setdefault("ranked", []).append(max(ok, default=(0.0, 0)))

        out: dict[str, Any] = {}
        for group in sorted(per):
            g = per[group]
            n = g["fans"]
            conf_shown = [c for c, _ok in g["shown"]]
            bins, ece = _bins_and_ece(g["cands"])
            rule_cov = len(g["rule"]) / n if n else 0.0
            ranked = sorted(g["ranked"], key=lambda p: -p[0])[: len(g["rule"])]
            out[group] = {
                "test_fans": n,
                "coverage": _r(g["covered"] / n if n else 0.0),
                "precision_shown": _r(
                    sum(ok for _c, ok in g["shown"]) / len(g["shown"]) if g["shown"] else None
                ),
                "shown": len(g["shown"]),
                "mean_confidence_shown": _r(sum(conf_shown) / len(conf_shown) if conf_shown else None),
                "min_confidence_shown": _r(min(conf_shown) if conf_shown else None),
                "ece": ece,
                "candidates": len(g["cands"]),
                "bins": bins,
                "precision_at_phrase_rules_coverage": _r(
                    sum(ok for _c, ok in ranked) / len(ranked) if ranked else None
                ),
                "baselines": {
                    "majority": {"precision": _r(g["maj"] / n if n else None), "coverage": 1.0 if n else 0.0},
                    "phrase_rules": {
                        "precision": _r(sum(g["rule"]) / len(g["rule"]) if g["rule"] else None),
                        "coverage": _r(rule_cov),
                    },
                },
            }
        report = {
            "groups": out,
            "threshold": threshold,
            "seed": options["seed"],
            "fans": {
                "train": len(fit),
                "calibration": len(calib),
                "test": len(test),
                "without_messages": len(without_messages),
                "without_tags": len([f for f in texts if f not in labels]),
            },
        }
        path = Path(options["json_path"])
        try:
            path.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None
        self.stdout.write(
            f"{len(test)} test fans, {len(out)} groups, {len(without_messages)} fans in t.csv without messages"
        )
