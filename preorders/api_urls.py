from django.urls import path

from preorders import api, api_settlement

urlpatterns = [
    path("campaigns/", api.CampaignListApi.as_view(), name="api-campaigns"),
    path("campaigns/<int:campaign_id>/", api.CampaignDetailApi.as_view(), name="api-campaign"),
    path("campaigns/<int:campaign_id>/launch/", api.CampaignLaunchApi.as_view(), name="api-campaign-launch"),
    path(
        "campaigns/<int:campaign_id>/pledges/", api.CampaignPledgesApi.as_view(), name="api-campaign-pledges"
    ),
    path(
        "campaigns/<int:campaign_id>/settlement/",
        api_settlement.CampaignSettlementApi.as_view(),
        name="api-campaign-settlement",
    ),
    path(
        "campaigns/<int:campaign_id>/moq-decision/",
        api_settlement.CampaignMoqDecisionApi.as_view(),
        name="api-campaign-moq-decision",
    ),
    path("me/pledges/", api.MyPledgesApi.as_view(), name="api-my-pledges"),
    path("pledges/<int:pledge_id>/", api.PledgeDetailApi.as_view(), name="api-pledge"),
    path("pledges/<int:pledge_id>/cancel/", api.PledgeCancelApi.as_view(), name="api-pledge-cancel"),
    path("pledges/<int:pledge_id>/skip/", api.SubscriptionSkipApi.as_view(), name="api-subscription-skip"),
    path("pledges/<int:pledge_id>/pause/", api.SubscriptionPauseApi.as_view(), name="api-subscription-pause"),
    path(
        "pledges/<int:pledge_id>/resume/", api.SubscriptionResumeApi.as_view(), name="api-subscription-resume"
    ),
    path("factory-orders/", api.FactoryOrderListApi.as_view(), name="api-factory-orders"),
    path(
        "factory-orders/<int:order_id>/transition/",
        api.FactoryOrderTransitionApi.as_view(),
        name="api-factory-order-transition",
    ),
    path("factory-board/<str:token>/", api.DemandBoardApi.as_view(), name="api-factory-board"),
]
