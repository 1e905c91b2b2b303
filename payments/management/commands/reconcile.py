from django.core.management.base import BaseCommand, CommandError

from payments.reconcile import reconcile


class Command(BaseCommand):
    help = "Compare the ledger with the payment provider's own records and list every difference."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--limit", type=int, default=1000, help="list at most this many differences")

    def handle(self, *args, limit: int, **options) -> None:
        report = reconcile(limit=limit)
        for d in report["differences"]:
            self.stdout.write(
                f"{d['problem']:<20} {d['reference']:<48} ledger={d['ledger']} provider={d['provider']}"
            )
        self.stdout.write(
            f"{report['transactions']} ledger transactions checked, {report['difference_count']} differences"
        )
        if report["difference_count"]:
            raise CommandError(f"{report['difference_count']} differences")
