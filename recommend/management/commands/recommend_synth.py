from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from recommend.synthetic import generate, write_csvs


class Command(BaseCommand):
    help = "Write synthetic interactions.csv, user_features.csv and item_features.csv for recommend_eval."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--users", type=int, required=True)
        parser.add_argument("--items", type=int, required=True)
        parser.add_argument("--out", required=True, help="directory to write the three CSV files into")
        parser.add_argument(
            "--tag-strength",
            type=float,
            default=0.6,
            help="0 = tags irrelevant to what fans take, 1 = tags decide (with popularity)",
        )
        parser.add_argument("--mean-interactions", type=float, default=12.0)
        parser.add_argument("--seed", type=int, default=0)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["users"] < 1 or options["items"] < 2:
            raise CommandError("--users must be at least 1 and --items at least 2")
        if not 0.0 <= options["tag_strength"] <= 1.0:
            raise CommandError("--tag-strength must be between 0 and 1")
        data = generate(
            users=options["users"],
            items=options["items"],
            tag_strength=options["tag_strength"],
            seed=options["seed"],
            mean_interactions=options["mean_interactions"],
        )
        paths = write_csvs(data, options["out"])
        self.stdout.write(
            f"wrote {len(data.interactions)} interactions, {len(data.user_features)} fan tags, "
            f"{len(data.item_features)} product features to {paths['interactions'].parent}"
        )
