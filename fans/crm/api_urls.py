from django.urls import path

from fans.crm import api, api_jobs, api_lifecycle, api_team

urlpatterns = [
    path("tag-groups/", api.TagGroupListApi.as_view(), name="api-tag-groups"),
    path("fans/", api.FanListApi.as_view(), name="api-fans"),
    path("fans/<int:fan_id>/", api.FanDetailApi.as_view(), name="api-fan"),
    path("fans/<int:fan_id>/tags/", api.FanTagsApi.as_view(), name="api-fan-tags"),
    path("segments/", api.SegmentListApi.as_view(), name="api-segments"),
    path("segments/<int:segment_id>/", api.SegmentDetailApi.as_view(), name="api-segment"),
    path("segments/<int:segment_id>/fans/", api.SegmentFansApi.as_view(), name="api-segment-fans"),
    path("bulk-jobs/", api_jobs.BulkJobCreateApi.as_view(), name="api-bulk-jobs"),
    path("bulk-jobs/<int:job_id>/", api_jobs.BulkJobDetailApi.as_view(), name="api-bulk-job"),
    path("bulk-jobs/<int:job_id>/cancel/", api_jobs.BulkJobCancelApi.as_view(), name="api-bulk-job-cancel"),
    path(
        "bulk-jobs/<int:job_id>/download/",
        api_jobs.BulkJobDownloadApi.as_view(),
        name="api-bulk-job-download",
    ),
    path("imports/", api_jobs.ImportCreateApi.as_view(), name="api-imports"),
    path("imports/<int:job_id>/", api_jobs.ImportDetailApi.as_view(), name="api-import"),
    path("imports/<int:job_id>/confirm/", api_jobs.ImportConfirmApi.as_view(), name="api-import-confirm"),
    path("imports/<int:job_id>/cancel/", api_jobs.ImportCancelApi.as_view(), name="api-import-cancel"),
    path("lifecycle/settings/", api_lifecycle.LifecycleSettingsApi.as_view(), name="api-lifecycle-settings"),
    path(
        "lifecycle/recompute/", api_lifecycle.LifecycleRecomputeApi.as_view(), name="api-lifecycle-recompute"
    ),
    path("team/", api_team.TeamApi.as_view(), name="api-team"),
    path("team/<int:member_id>/", api_team.TeamMemberApi.as_view(), name="api-team-member"),
    path("team/handover/", api_team.TeamHandoverApi.as_view(), name="api-team-handover"),
    path("audit-log/", api_team.AuditLogApi.as_view(), name="api-audit-log"),
    path("me/tags/", api.MyTagsApi.as_view(), name="api-my-tags"),
    path("me/shops/<int:shop_id>/tags/erase/", api.MyTagsEraseApi.as_view(), name="api-my-tags-erase"),
    path(
        "me/shops/<int:shop_id>/personalisation/",
        api.MyPersonalisationApi.as_view(),
        name="api-my-personalisation",
    ),
]
