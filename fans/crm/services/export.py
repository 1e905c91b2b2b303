"""The fan list as CSV (a bulk job's download): labels in the UI language, times in shop time, codes in
columns of their own.

The header row is in the language of the request that asked for the file (BulkJob.params["language"]);
import (fans.crm.services.imports) reads these labels as well as the column codes. `tags` holds tag codes
("skin_type:oily"), `tag_labels` the same tags as the UI shows them ("肤质:油皮"); times are the shop's
local time (Shop.timezone), written "YYYY-MM-DD HH:MM".
"""

import csv
import os
import tempfile
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from django.core.files import File
from django.db import connection
from django.db.models import Q
from django.utils import translation
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from core.db import is_postgresql
from core.replica import read_connection, replica_reads
from fans.crm.models import BulkJob, Tag
from fans.crm.services.common import fans_by_ids
from shops.models import Shop

EXPORT_COLUMNS = [
    ("fan_id", _("Fan ID")),
    ("username", _("Username")),
    ("display_name", _("Display name")),
    ("joined_at", _("Joined (shop time)")),
    ("assigned_to", _("Assigned to")),
    ("total_spend", _("Spend (paid, CNY)")),
    ("pledge_count", _("Pledges")),
    ("last_message_at", _("Last message (shop time)")),
    ("notes", _("Private notes")),
    ("tags", _("Tag codes")),
    ("tag_labels", _("Tags")),
]
EXPORT_HEADER = [code for code, _label in EXPORT_COLUMNS]
TIME_FORMAT = "%Y-%m-%d %H:%M"


def export_labels() -> list[str]:
    return [str(label) for _code, label in EXPORT_COLUMNS]


def header_codes() -> dict[str, str]:
    """Every way a column may be named on import (code, or label in any UI language) -> its code."""
    from django.conf import settings

    names = {code: code for code in EXPORT_HEADER}
    for language, _name in settings.LANGUAGES:
        with translation.override(language):
            names.update({str(label).strip().lower(): code for code, label in EXPORT_COLUMNS})
    return names


def _english() -> bool:
    return (get_language() or "zh-hans").startswith("en")


def tag_labels_by_id(shop: Shop) -> dict[int, str]:
    """{tag id: "肤质:油皮"} in the active language (what the UI shows)."""
    en = _english()
    return {
        pk: f"{gen if en else gzh}:{ten if en else tzh}"
        for pk, gzh, gen, tzh, ten in Tag.objects.filter(
            Q(group__shop__isnull=True) | Q(group__shop=shop)
        ).values_list("pk", "group__name_zh", "group__name_en", "name_zh", "name_en")
    }


def _local(when, zone: ZoneInfo) -> str:
    return when.astimezone(zone).strftime(TIME_FORMAT) if when else ""


def fan_export_rows(
    shop: Shop,
    fan_ids: list[int],
    tag_names: dict[int, str] | None = None,
    tag_labels: dict[int, str] | None = None,
) -> Iterator[list[object]]:
    """Export rows for a batch of fans, in id order, in one query (tags come from Fan.tag_ids)."""
    from fans.crm.services.common import tag_strings_by_id

    names = tag_names if tag_names is not None else tag_strings_by_id(shop)
    labels = tag_labels if tag_labels is not None else tag_labels_by_id(shop)
    zone = ZoneInfo(shop.timezone or "Asia/Shanghai")
    fans = (
        fans_by_ids(shop, fan_ids)
        .order_by("pk")
        .values_list(
            "pk",
            "user__username",
            "display_name",
            "joined_at",
            "assigned_to__username",
            "total_spend",
            "pledge_count",
            "conversation__last_message_at",
            "notes",
            "tag_ids",
        )
    )
    for pk, username, name, joined, assigned, spend, pledges, last_msg, notes, tag_ids in fans:
        yield [
            pk,
            username,
            name,
            _local(joined, zone),
            assigned or "",
            spend,
            pledges,
            _local(last_msg, zone),
            notes,
            ";".join(names[t] for t in tag_ids if t in names),
            ";".join(labels[t] for t in tag_ids if t in labels),
        ]


class ExportWriter:
    """Streams export rows to a temporary file, then stores it on the job."""

    def __init__(self, job: BulkJob) -> None:
        from fans.crm.services.common import tag_strings_by_id

        self.job = job
        self.language = (job.params or {}).get("language") or get_language() or "zh-hans"
        self.tag_names = tag_strings_by_id(job.shop)
        with translation.override(self.language):
            self.tag_labels = tag_labels_by_id(job.shop)
            header = export_labels()
        fd, self.path = tempfile.mkstemp(suffix=".csv")
        self.stream = os.fdopen(fd, "w", encoding="utf-8-sig", newline="")
        self.writer = csv.writer(self.stream)
        self.writer.writerow(header)

    def write(self, fan_ids: list[int]) -> int:
        from fans.crm.csvio import cell_safe

        if is_postgresql(connection):
            return self._copy(fan_ids)
        n = 0
        for row in fan_export_rows(self.job.shop, fan_ids, self.tag_names, self.tag_labels):
            self.writer.writerow([cell_safe(v) for v in row])
            n += 1
        return n

    def _copy(self, fan_ids: list[int]) -> int:
        """PostgreSQL writes the CSV itself (COPY), several times faster than row objects; same columns and
        the same formula neutralising as fans.csvio.cell_safe."""

        def safe(expr: str) -> str:
            return f"CASE WHEN ({expr}) ~ '^[=+@\t\r-]' THEN '''' || ({expr}) ELSE ({expr}) END"

        def tags(group_col: str, tag_col: str) -> str:
            return (
                f"COALESCE((SELECT string_agg(g.{group_col} || ':' || t.{tag_col}, ';' ORDER BY t.id) "
                "FROM jsonb_array_elements_text(f.tag_ids) AS x(id) JOIN fans_tag t ON t.id = x.id::bigint "
                "JOIN fans_taggroup g ON g.id = t.group_id), '')"
            )

        name = "name_en" if self.language.startswith("en") else "name_zh"

        def local(column: str) -> str:
            return f"COALESCE(to_char({column} AT TIME ZONE %s, 'YYYY-MM-DD HH24:MI'), '')"

        sql = (
            f"COPY (SELECT f.id, {safe('u.username')}, {safe('f.display_name')}, {local('f.joined_at')}, "
            f"COALESCE({safe('a.username')}, ''), f.total_spend, f.pledge_count, "
            f"{local('c.last_message_at')}, {safe('f.notes')}, {safe(tags('code', 'code'))}, "
            f"{safe(tags(name, name))} "
            "FROM fans_fan f JOIN auth_user u ON u.id = f.user_id LEFT JOIN auth_user a ON a.id = f.assigned_to_id "
            "LEFT JOIN fans_conversation c ON c.fan_id = f.id "
            f"WHERE f.shop_id = {int(self.job.shop_id)} AND f.id = ANY(%s) ORDER BY f.id) TO STDOUT WITH (FORMAT csv)"
        )
        zone = self.job.shop.timezone or "Asia/Shanghai"
        self.stream.flush()
        # The export reads the replica when there is one (core/replica.py), between its own progress writes.
        with replica_reads(independent=True), read_connection().cursor() as cursor:
            with cursor.cursor.copy(sql, [zone, zone, fan_ids]) as copy:
                data = b"".join(bytes(chunk) for chunk in copy).decode("utf-8")
            rows = cursor.cursor.rowcount
        self.stream.write(data)
        return rows

    def save(self) -> None:
        self.stream.close()
        with open(self.path, "rb") as fh:
            self.job.file.save(f"fans-{self.job.shop_id}-{self.job.pk}.csv", File(fh), save=False)
        BulkJob.objects.filter(pk=self.job.pk).update(file=self.job.file.name)
        os.unlink(self.path)

    def discard(self) -> None:
        if not self.stream.closed:
            self.stream.close()
        if os.path.exists(self.path):
            os.unlink(self.path)
