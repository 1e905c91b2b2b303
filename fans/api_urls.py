from django.urls import path

from fans import api

urlpatterns = [
    path("conversations/", api.ConversationListApi.as_view(), name="api-conversations"),
    path(
        "conversations/<int:conversation_id>/", api.ConversationDetailApi.as_view(), name="api-conversation"
    ),
    path("conversations/<int:conversation_id>/messages/", api.MessageListApi.as_view(), name="api-messages"),
    path(
        "conversations/<int:conversation_id>/read/",
        api.ConversationReadApi.as_view(),
        name="api-conversation-read",
    ),
    path(
        "conversations/<int:conversation_id>/assign/",
        api.ConversationAssignApi.as_view(),
        name="api-conversation-assign",
    ),
    path("messages/<int:message_id>/image/", api.MessageImageApi.as_view(), name="api-message-image"),
    path(
        "messages/<int:message_id>/thumbnail/",
        api.MessageThumbnailApi.as_view(),
        name="api-message-thumbnail",
    ),
]

from fans import crm_api  # noqa: E402

urlpatterns += [
    path("tag-groups/", crm_api.TagGroupListApi.as_view(), name="api-tag-groups"),
    path("fans/", crm_api.FanListApi.as_view(), name="api-fans"),
    path("fans/<int:fan_id>/", crm_api.FanDetailApi.as_view(), name="api-fan"),
    path("fans/<int:fan_id>/tags/", crm_api.FanTagsApi.as_view(), name="api-fan-tags"),
    path("segments/", crm_api.SegmentListApi.as_view(), name="api-segments"),
    path("segments/<int:segment_id>/", crm_api.SegmentDetailApi.as_view(), name="api-segment"),
    path("segments/<int:segment_id>/fans/", crm_api.SegmentFansApi.as_view(), name="api-segment-fans"),
    path("bulk-jobs/", crm_api.BulkJobCreateApi.as_view(), name="api-bulk-jobs"),
    path("bulk-jobs/<int:job_id>/", crm_api.BulkJobDetailApi.as_view(), name="api-bulk-job"),
    path("bulk-jobs/<int:job_id>/cancel/", crm_api.BulkJobCancelApi.as_view(), name="api-bulk-job-cancel"),
    path(
        "bulk-jobs/<int:job_id>/download/", crm_api.BulkJobDownloadApi.as_view(), name="api-bulk-job-download"
    ),
    path("imports/", crm_api.ImportCreateApi.as_view(), name="api-imports"),
    path("imports/<int:job_id>/", crm_api.ImportDetailApi.as_view(), name="api-import"),
    path("imports/<int:job_id>/confirm/", crm_api.ImportConfirmApi.as_view(), name="api-import-confirm"),
    path("team/", crm_api.TeamApi.as_view(), name="api-team"),
    path("team/<int:member_id>/", crm_api.TeamMemberApi.as_view(), name="api-team-member"),
    path("team/handover/", crm_api.TeamHandoverApi.as_view(), name="api-team-handover"),
    path("audit-log/", crm_api.AuditLogApi.as_view(), name="api-audit-log"),
    path("me/tags/", crm_api.MyTagsApi.as_view(), name="api-my-tags"),
    path("me/shops/<int:shop_id>/tags/erase/", crm_api.MyTagsEraseApi.as_view(), name="api-my-tags-erase"),
]

from fans import bot_api  # noqa: E402

urlpatterns += [
    path(
        "fans/<int:fan_id>/tag-suggestions/",
        bot_api.TagSuggestionListApi.as_view(),
        name="api-tag-suggestions",
    ),
    path(
        "fans/<int:fan_id>/tag-suggestions/<int:suggestion_id>/confirm/",
        bot_api.TagSuggestionDecideApi.as_view(),
        name="api-tag-suggestion-confirm",
    ),
    path(
        "fans/<int:fan_id>/tag-suggestions/<int:suggestion_id>/reject/",
        bot_api.TagSuggestionRejectApi.as_view(),
        name="api-tag-suggestion-reject",
    ),
    path("fans/<int:fan_id>/drafts/", bot_api.FanDraftApi.as_view(), name="api-fan-drafts"),
    path(
        "fans/<int:fan_id>/canned/<int:reply_id>/render/",
        bot_api.CannedRenderApi.as_view(),
        name="api-canned-render",
    ),
    path("bot/canned-replies/", bot_api.CannedReplyListApi.as_view(), name="api-canned-replies"),
    path("bot/faq/", bot_api.FaqListApi.as_view(), name="api-bot-faq"),
    path("bot/settings/", bot_api.BotSettingsApi.as_view(), name="api-bot-settings"),
    path(
        "conversations/<int:conversation_id>/bot/resume/",
        bot_api.BotResumeApi.as_view(),
        name="api-bot-resume",
    ),
    path("broadcasts/", bot_api.BroadcastCreateApi.as_view(), name="api-broadcasts"),
    path("broadcasts/<int:broadcast_id>/", bot_api.BroadcastDetailApi.as_view(), name="api-broadcast"),
    path(
        "me/shops/<int:shop_id>/promotions/", bot_api.PromotionsOptOutApi.as_view(), name="api-my-promotions"
    ),
]
