from django.contrib import admin

from reach.models import DigestSettings, PushSubscription, Reminder


@admin.register(PushSubscription)
class PushSubscriptionAdmin(admin.ModelAdmin):
    list_display = ("user", "user_agent", "created_at", "last_ok_at")
    raw_id_fields = ("user",)


@admin.register(Reminder)
class ReminderAdmin(admin.ModelAdmin):
    list_display = ("user", "conversation", "remind_at", "status", "cancel_on_reply")
    list_filter = ("status",)
    raw_id_fields = ("user", "conversation")


@admin.register(DigestSettings)
class DigestSettingsAdmin(admin.ModelAdmin):
    list_display = ("shop", "unanswered_after_minutes", "enabled")
    raw_id_fields = ("shop",)
