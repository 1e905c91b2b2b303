from django.urls import path

from preorders import api, api_box, api_settlement

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
    path("me/orders/", api.MyOrdersApi.as_view(), name="api-my-orders"),
    path("pledges/<int:pledge_id>/", api.PledgeDetailApi.as_view(), name="api-pledge"),
    path("pledges/<int:pledge_id>/cancel/", api.PledgeCancelApi.as_view(), name="api-pledge-cancel"),
    path(
        "pledges/<int:pledge_id>/pay-balance/",
        api.PledgePayBalanceApi.as_view(),
        name="api-pledge-pay-balance",
    ),
    path(
        "cycle-deliveries/<int:delivery_id>/pay/",
        api.DeliveryPayNowApi.as_view(),
        name="api-delivery-pay-now",
    ),
    path("pledges/<int:pledge_id>/skip/", api.SubscriptionSkipApi.as_view(), name="api-subscription-skip"),
    path("pledges/<int:pledge_id>/pause/", api.SubscriptionPauseApi.as_view(), name="api-subscription-pause"),
    path(
        "pledges/<int:pledge_id>/resume/", api.SubscriptionResumeApi.as_view(), name="api-subscription-resume"
    ),
    # The fruit box (preorders/api_box.py).
    path("pledges/<int:pledge_id>/box/", api_box.PledgeBoxApi.as_view(), name="api-pledge-box"),
    path("pledges/<int:pledge_id>/box/swap/", api_box.PledgeBoxSwapApi.as_view(), name="api-pledge-box-swap"),
    path(
        "pledges/<int:pledge_id>/box/delay/", api_box.PledgeBoxDelayApi.as_view(), name="api-pledge-box-delay"
    ),
    path("pledges/<int:pledge_id>/box/gift/", api_box.PledgeBoxGiftApi.as_view(), name="api-pledge-box-gift"),
    path(
        "pledges/<int:pledge_id>/box/frequency/",
        api_box.PledgeBoxFrequencyApi.as_view(),
        name="api-pledge-box-frequency",
    ),
    path(
        "pledges/<int:pledge_id>/cancel-offer/",
        api_box.CancelOfferApi.as_view(),
        name="api-pledge-cancel-offer",
    ),
    path(
        "pledges/<int:pledge_id>/cancel-offer/accept/",
        api_box.CancelOfferAcceptApi.as_view(),
        name="api-pledge-cancel-offer-accept",
    ),
    path(
        "campaigns/<int:campaign_id>/box-items/",
        api_box.CampaignBoxItemsApi.as_view(),
        name="api-campaign-box-items",
    ),
    path("box-items/<int:item_id>/", api_box.BoxItemDetailApi.as_view(), name="api-box-item"),
    path("factory-orders/", api.FactoryOrderListApi.as_view(), name="api-factory-orders"),
    path(
        "factory-orders/<int:order_id>/transition/",
        api.FactoryOrderTransitionApi.as_view(),
        name="api-factory-order-transition",
    ),
    path("factory-board/<str:token>/", api.DemandBoardApi.as_view(), name="api-factory-board"),
]
