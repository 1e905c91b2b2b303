from django.urls import path

from fans.chat import api, api_follow

urlpatterns = [
    path("conversations/", api.ConversationListApi.as_view(), name="api-conversations"),
    path("conversations/counts/", api.ConversationCountsApi.as_view(), name="api-conversation-counts"),
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
    path("follows/", api_follow.FollowApi.as_view(), name="api-follows"),
    path("messages/<int:message_id>/image/", api.MessageImageApi.as_view(), name="api-message-image"),
    path(
        "messages/<int:message_id>/thumbnail/",
        api.MessageThumbnailApi.as_view(),
        name="api-message-thumbnail",
    ),
]
