from __future__ import annotations

import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from recommend.data import DataError, load_catalog, load_user_text
from recommend.evaluation import run_evaluation


class Command(BaseCommand):
    help = (
        "Evaluate the recommenders offline in three regimes (warm_users, cold_users, cold_items), choose the "
        "served ranker per regime on a validation split, and report test metrics. See docs/recommend-eval.md."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--interactions", help="CSV: user_id,item_id[,weight]")
        parser.add_argument("--user-features", help="CSV: user_id,feature (one row per tag)")
        parser.add_argument("--item-features", help="CSV: item_id,feature")
        parser.add_argument(
            "--user-text",
            help="CSV: user_id,text (one row per message, UTF-8 or GB18030); adds the chat_users regime",
        )
        parser.add_argument(
            "--from-db",
            action="store_true",
            help="evaluate the shops' data in the database (all shops, as training does) instead of CSV files",
        )
        parser.add_argument("--k", type=int, default=10)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--json", dest="json_path", help="write the metrics JSON here")
        parser.add_argument(
            "--threads",
            type=int,
            default=1,
            help="LightFM threads; 1 (default) is bit-for-bit reproducible, more is faster but not exactly",
        )
        parser.add_argument(
            "--max-fit-seconds",
            type=float,
            default=60.0,
            help="cap on one LightFM fit; epochs stop early (and the table says so) when the next would overrun",
        )
        parser.add_argument(
            "--grid",
            choices=("standard", "tiny"),
            default="standard",
            help="LightFM tuning grid; 'tiny' is one small config for smoke tests",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["k"] < 1:
            raise CommandError("--k must be at least 1")
        if options["threads"] < 1:
            raise CommandError("--threads must be at least 1")
        csv_paths = (options["interactions"], options["user_features"], options["item_features"])
        if options["from_db"]:
            if any(csv_paths):
                raise CommandError("use either --from-db or the three CSV files, not both")
            from recommend.selectors import catalog_from_db

            catalog = catalog_from_db().catalog
            if len(catalog.interactions) == 0:
                raise CommandError("the database has no interactions to evaluate yet")
        else:
            if not all(csv_paths):
                raise CommandError("give --interactions, --user-features and --item-features (or --from-db)")
            try:
                catalog, report = load_catalog(*csv_paths)
            except DataError as exc:
                raise CommandError(str(exc)) from None
            for warning in report.warnings:
                self.stderr.write(f"warning: {warning}")
        if options["user_text"]:
            from recommend.selectors import platform_phrase_rules

            try:
                catalog, text_report = load_user_text(options["user_text"], catalog, platform_phrase_rules())
            except DataError as exc:
                raise CommandError(str(exc)) from None
            for warning in text_report.warnings:
                self.stderr.write(f"warning: {warning}")
            self.stdout.write(f"{len(catalog.text_users())} users with text")
        self.stdout.write(
            f"{catalog.n_users} users, {catalog.n_items} items, {len(catalog.interactions)} interactions"
        )
        verbose = options["verbosity"] >= 2
        evaluation = run_evaluation(
            catalog,
            k=options["k"],
            seed=options["seed"],
            num_threads=options["threads"],
            max_fit_seconds=options["max_fit_seconds"],
            grid=options["grid"],
            log=self.stdout.write if verbose else (lambda _: None),
        )
        for note in evaluation.notes:
            self.stdout.write(f"note: {note}")
        self.stdout.write(evaluation.table())
        if options["json_path"]:
            path = Path(options["json_path"])
            try:
                path.write_text(json.dumps(evaluation.to_json(), indent=2) + "\n", encoding="utf-8")
            except OSError as exc:
                raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None
            self.stdout.write(f"wrote {path}")
