"""fans/ became three apps (fans.chat, fans.crm, fans.bot): their models keep these tables.

State only, except that content types (and so permissions and admin history) follow their models.
"""

from django.db import migrations

MOVED = {
    "chat": ["fan", "conversation", "message"],
    "crm": ["taggroup", "tag", "fantag", "fantagset", "fantagevent", "segment", "bulkjob", "importjob", "auditlog"],
    "bot": ["phraserule", "tagsuggestion", "botsettings", "faqrule", "cannedreply", "broadcast", "promodelivery"],
}


def content_types_move(apps, schema_editor, *, forward=True):
    ContentType = apps.get_model("contenttypes", "ContentType")
    for label, models in MOVED.items():
        old, new = ("fans", label) if forward else (label, "fans")
        for model in models:
            if not ContentType.objects.filter(app_label=new, model=model).exists():
                ContentType.objects.filter(app_label=old, model=model).update(app_label=new)


def content_types_back(apps, schema_editor):
    content_types_move(apps, schema_editor, forward=False)


class Migration(migrations.Migration):

    dependencies = [
        ('fans', '0011_tag_sets'),
        ('contenttypes', '0002_remove_content_type_name'),
        ('chat', '0001_initial'),
        ('crm', '0001_initial'),
        ('bot', '0002_initial'),
        ('preorders', '0002_fans_moved_to_chat'),
        ('recommend', '0002_fans_moved_to_chat_crm'),
    ]

    # The tables stay; chat, crm and bot took over their models' state.
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name='botsettings',
                    name='shop',
                ),
                migrations.RemoveField(
                    model_name='broadcast',
                    name='created_by',
                ),
                migrations.RemoveField(
                    model_name='broadcast',
                    name='shop',
                ),
                migrations.RemoveField(
                    model_name='promodelivery',
                    name='broadcast',
                ),
                migrations.RemoveField(
                    model_name='bulkjob',
                    name='created_by',
                ),
                migrations.RemoveField(
                    model_name='bulkjob',
                    name='shop',
                ),
                migrations.RemoveField(
                    model_name='cannedreply',
                    name='shop',
                ),
                migrations.RemoveField(
                    model_name='conversation',
                    name='assigned_to',
                ),
                migrations.RemoveField(
                    model_name='conversation',
                    name='fan',
                ),
                migrations.RemoveField(
                    model_name='conversation',
                    name='shop',
                ),
                migrations.RemoveField(
                    model_name='message',
                    name='conversation',
                ),
                migrations.RemoveField(
                    model_name='fan',
                    name='assigned_to',
                ),
                migrations.RemoveField(
                    model_name='fan',
                    name='shop',
                ),
                migrations.RemoveField(
                    model_name='fan',
                    name='user',
                ),
                migrations.RemoveField(
                    model_name='fantag',
                    name='fan',
                ),
                migrations.RemoveField(
                    model_name='tagsuggestion',
                    name='fan',
                ),
                migrations.RemoveField(
                    model_name='fantagevent',
                    name='fan',
                ),
                migrations.RemoveField(
                    model_name='promodelivery',
                    name='fan',
                ),
                migrations.RemoveField(
                    model_name='fantagset',
                    name='fan',
                ),
                migrations.RemoveField(
                    model_name='fantag',
                    name='added_by',
                ),
                migrations.RemoveField(
                    model_name='fantag',
                    name='group',
                ),
                migrations.RemoveField(
                    model_name='fantag',
                    name='tag',
                ),
                migrations.RemoveField(
                    model_name='fantagevent',
                    name='actor',
                ),
                migrations.RemoveField(
                    model_name='fantagevent',
                    name='tag',
                ),
                migrations.RemoveField(
                    model_name='fantagset',
                    name='shop',
                ),
                migrations.RemoveField(
                    model_name='faqrule',
                    name='shop',
                ),
                migrations.RemoveField(
                    model_name='importjob',
                    name='created_by',
                ),
                migrations.RemoveField(
                    model_name='importjob',
                    name='shop',
                ),
                migrations.RemoveField(
                    model_name='message',
                    name='sender',
                ),
                migrations.RemoveField(
                    model_name='tagsuggestion',
                    name='message',
                ),
                migrations.RemoveField(
                    model_name='promodelivery',
                    name='message',
                ),
                migrations.RemoveField(
                    model_name='phraserule',
                    name='shop',
                ),
                migrations.RemoveField(
                    model_name='phraserule',
                    name='tag',
                ),
                migrations.RemoveField(
                    model_name='tagsuggestion',
                    name='rule',
                ),
                migrations.RemoveField(
                    model_name='segment',
                    name='created_by',
                ),
                migrations.RemoveField(
                    model_name='segment',
                    name='shop',
                ),
                migrations.RemoveField(
                    model_name='tag',
                    name='group',
                ),
                migrations.RemoveField(
                    model_name='tagsuggestion',
                    name='tag',
                ),
                migrations.RemoveField(
                    model_name='taggroup',
                    name='shop',
                ),
                migrations.RemoveField(
                    model_name='tagsuggestion',
                    name='decided_by',
                ),
                migrations.DeleteModel(
                    name='AuditLog',
                ),
                migrations.DeleteModel(
                    name='BotSettings',
                ),
                migrations.DeleteModel(
                    name='Broadcast',
                ),
                migrations.DeleteModel(
                    name='BulkJob',
                ),
                migrations.DeleteModel(
                    name='CannedReply',
                ),
                migrations.DeleteModel(
                    name='Conversation',
                ),
                migrations.DeleteModel(
                    name='Fan',
                ),
                migrations.DeleteModel(
                    name='FanTag',
                ),
                migrations.DeleteModel(
                    name='FanTagEvent',
                ),
                migrations.DeleteModel(
                    name='FanTagSet',
                ),
                migrations.DeleteModel(
                    name='FaqRule',
                ),
                migrations.DeleteModel(
                    name='ImportJob',
                ),
                migrations.DeleteModel(
                    name='Message',
                ),
                migrations.DeleteModel(
                    name='PromoDelivery',
                ),
                migrations.DeleteModel(
                    name='PhraseRule',
                ),
                migrations.DeleteModel(
                    name='Segment',
                ),
                migrations.DeleteModel(
                    name='Tag',
                ),
                migrations.DeleteModel(
                    name='TagGroup',
                ),
                migrations.DeleteModel(
                    name='TagSuggestion',
                ),
            ],
            database_operations=[migrations.RunPython(content_types_move, content_types_back)],
        ),
    ]
