from django.urls import path

from reach import api

urlpatterns = [
    path("push/subscriptions/", api.PushSubscriptionsApi.as_view(), name="api-push-subscriptions"),
    path(
        "push/subscriptions/<int:subscription_id>/",
        api.PushSubscriptionApi.as_view(),
        name="api-push-subscription",
    ),
    path("push/preference/", api.PushPreferenceApi.as_view(), name="api-push-preference"),
    path(
        "conversations/<int:conversation_id>/reminders/",
        api.ConversationRemindersApi.as_view(),
        name="api-conversation-reminders",
    ),
    path(
        "conversations/<int:conversation_id>/scheduled-messages/",
        api.ConversationScheduledMessagesApi.as_view(),
        name="api-conversation-scheduled-messages",
    ),
    path(
        "scheduled-messages/<int:scheduled_id>/",
        api.ScheduledMessageApi.as_view(),
        name="api-scheduled-message",
    ),
    path(
        "scheduled-messages/<int:scheduled_id>/cancel/",
        api.ScheduledMessageCancelApi.as_view(),
        name="api-scheduled-message-cancel",
    ),
    path("reminders/", api.RemindersApi.as_view(), name="api-reminders"),
    path("reminders/<int:reminder_id>/cancel/", api.ReminderCancelApi.as_view(), name="api-reminder-cancel"),
    path("shops/<int:shop_id>/digest-settings/", api.DigestSettingsApi.as_view(), name="api-digest-settings"),
]
