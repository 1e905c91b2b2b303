from django.contrib import admin

from fans.chat.models import Conversation, Fan, Message


@admin.register(Fan)
class FanAdmin(admin.ModelAdmin):
    list_display = ["id", "display_name", "shop", "user", "joined_at", "assigned_to"]
    list_filter = ["shop"]
    search_fields = ["display_name", "user__username"]
    raw_id_fields = ["user", "assigned_to"]


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "shop",
        "fan",
        "last_seq",
        "last_message_at",
        "shop_unread",
        "fan_unread",
        "assigned_to",
    ]
    list_filter = ["shop"]
    raw_id_fields = ["fan", "assigned_to"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    """Read-only: messages are evidence for abuse handling, never edited."""

    list_display = ["id", "conversation", "seq", "side", "kind", "sender", "created_at"]
    list_filter = ["kind", "side"]
    search_fields = ["text"]
    raw_id_fields = ["conversation", "sender"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False
