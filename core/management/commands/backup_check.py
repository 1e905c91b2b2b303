"""`manage.py backup_check [--dump-now] [--dir DIR]`: restore the latest dump into a scratch database and
compare its row counts with those recorded when it was dumped (docs/backups.md). Exits 1 on any mismatch."""

import json
import subprocess
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from core import backups
from core.db import is_postgresql


class Command(BaseCommand):
    help = "Restore the latest pg_dump into a scratch database and compare row counts per table."

    def add_arguments(self, parser):
        parser.add_argument("--dir", default=str(settings.FANSI_BACKUP_DIR), help="where the dumps are")
        parser.add_argument("--dump-now", action="store_true", help="make a dump (with its counts) first")

    def handle(self, *args, dir: str, dump_now: bool, **options):  # noqa: A002 - the option's name
        if not is_postgresql(connection):
            raise CommandError("backup_check needs PostgreSQL (DATABASE_URL)")
        folder = Path(dir)
        db = settings.DATABASES["default"]
        try:
            dump = backups.dump_now(db, folder) if dump_now else backups.latest_dump(folder)
            if dump is None:
                raise CommandError(f"no dump in {folder}: run with --dump-now, or see docs/backups.md")
            result = backups.restore_check(db, dump)
        except subprocess.CalledProcessError as exc:
            raise CommandError(f"{exc.cmd[0]} failed: {exc.stderr.decode(errors='replace')[-2000:]}") from exc
        except FileNotFoundError as exc:
            raise CommandError(str(exc)) from exc
        report = {"dump": str(dump), **result, "ok": not result["mismatches"]}
        self.stdout.write(json.dumps(report, ensure_ascii=False, default=list))
        if result["mismatches"]:
            raise CommandError(f"{len(result['mismatches'])} tables differ after restore")
