from django.urls import path

from fans.bot import api, api_broadcasts, api_replies

urlpatterns = [
    path(
        "fans/<int:fan_id>/tag-suggestions/",
        api.TagSuggestionListApi.as_view(),
        name="api-tag-suggestions",
    ),
    path(
        "fans/<int:fan_id>/tag-suggestions/<int:suggestion_id>/confirm/",
        api.TagSuggestionDecideApi.as_view(),
        name="api-tag-suggestion-confirm",
    ),
    path(
        "fans/<int:fan_id>/tag-suggestions/<int:suggestion_id>/reject/",
        api.TagSuggestionRejectApi.as_view(),
        name="api-tag-suggestion-reject",
    ),
    path("fans/<int:fan_id>/drafts/", api.FanDraftApi.as_view(), name="api-fan-drafts"),
    path(
        "fans/<int:fan_id>/canned/<int:reply_id>/render/",
        api.CannedRenderApi.as_view(),
        name="api-canned-render",
    ),
    path("bot/canned-replies/", api.CannedReplyListApi.as_view(), name="api-canned-replies"),
    path(
        "bot/canned-replies/<int:reply_id>/",
        api_replies.CannedReplyDetailApi.as_view(),
        name="api-canned-reply",
    ),
    path("bot/faq/", api.FaqListApi.as_view(), name="api-bot-faq"),
    path("bot/faq/<int:rule_id>/", api_replies.FaqDetailApi.as_view(), name="api-bot-faq-rule"),
    path("bot/settings/", api.BotSettingsApi.as_view(), name="api-bot-settings"),
    path(
        "conversations/<int:conversation_id>/bot/resume/",
        api.BotResumeApi.as_view(),
        name="api-bot-resume",
    ),
    path("broadcasts/", api.BroadcastCreateApi.as_view(), name="api-broadcasts"),
    path("broadcasts/preview/", api_broadcasts.BroadcastPreviewApi.as_view(), name="api-broadcast-preview"),
    path(
        "broadcasts/<int:broadcast_id>/skipped/",
        api_broadcasts.BroadcastSkippedApi.as_view(),
        name="api-broadcast-skipped",
    ),
    path(
        "broadcasts/<int:broadcast_id>/send-later/",
        api_broadcasts.BroadcastSendLaterApi.as_view(),
        name="api-broadcast-send-later",
    ),
    path("broadcasts/<int:broadcast_id>/", api.BroadcastDetailApi.as_view(), name="api-broadcast"),
    path(
        "broadcasts/<int:broadcast_id>/cancel/", api.BroadcastCancelApi.as_view(), name="api-broadcast-cancel"
    ),
    path("me/shops/<int:shop_id>/promotions/", api.PromotionsOptOutApi.as_view(), name="api-my-promotions"),
]
