from django.urls import path

from preorders import (
    api,
    api_box,
    api_factories,
    api_factory,
    api_fulfilment,
    api_manage,
    api_pledges,
    api_public,
    api_reviews,
    api_settlement,
)

urlpatterns = [
    # Fans' reviews of delivered items (preorders/api_reviews.py).
    path("reviews/", api_reviews.ReviewsApi.as_view(), name="api-reviews"),
    path("reviews/<int:review_id>/reply/", api_reviews.ReviewReplyApi.as_view(), name="api-review-reply"),
    path("review-photos/<int:photo_id>/", api_reviews.ReviewPhotoApi.as_view(), name="api-review-photo"),
    path("campaigns/", api.CampaignListApi.as_view(), name="api-campaigns"),
    path("campaigns/<int:campaign_id>/", api_public.CampaignDetailApi.as_view(), name="api-campaign"),
    path("campaigns/<int:campaign_id>/launch/", api.CampaignLaunchApi.as_view(), name="api-campaign-launch"),
    # An owner's controls on a live campaign (preorders/api_manage.py).
    path(
        "campaigns/<int:campaign_id>/close/", api_manage.CampaignCloseApi.as_view(), name="api-campaign-close"
    ),
    path(
        "campaigns/<int:campaign_id>/extend/",
        api_manage.CampaignExtendApi.as_view(),
        name="api-campaign-extend",
    ),
    path(
        "campaigns/<int:campaign_id>/cancel/",
        api_manage.CampaignCancelApi.as_view(),
        name="api-campaign-cancel",
    ),
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
    path(
        "campaigns/<int:campaign_id>/waitlist/",
        api.CampaignWaitlistApi.as_view(),
        name="api-campaign-waitlist",
    ),
    path("pledges/<int:pledge_id>/", api.PledgeDetailApi.as_view(), name="api-pledge"),
    path("pledges/<int:pledge_id>/cancel/", api.PledgeCancelApi.as_view(), name="api-pledge-cancel"),
    path(
        "pledges/<int:pledge_id>/change-quote/",
        api_pledges.PledgeChangeQuoteApi.as_view(),
        name="api-pledge-change-quote",
    ),
    path(
        "pledges/<int:pledge_id>/cancel-quote/",
        api_pledges.PledgeCancelQuoteApi.as_view(),
        name="api-pledge-cancel-quote",
    ),
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
    path("factories/", api_factories.FactoryListApi.as_view(), name="api-factories"),
    path(
        "factories/<int:factory_id>/board-link/",
        api_factories.FactoryBoardLinkApi.as_view(),
        name="api-factory-board-link",
    ),
    path("factory-orders/", api_factory.FactoryOrderListApi.as_view(), name="api-factory-orders"),
    path(
        "factory-orders/<int:order_id>/transition/",
        api_factory.FactoryOrderTransitionApi.as_view(),
        name="api-factory-order-transition",
    ),
    path("factory-board/<str:token>/", api_factory.DemandBoardApi.as_view(), name="api-factory-board"),
    # Fulfilment (preorders/api_fulfilment.py).
    path(
        "factory-orders/<int:order_id>/shipments/",
        api_fulfilment.FactoryOrderShipmentsApi.as_view(),
        name="api-factory-order-shipments",
    ),
    path(
        "factory-orders/<int:order_id>/shipments/import/",
        api_fulfilment.FactoryOrderShipmentsImportApi.as_view(),
        name="api-factory-order-shipments-import",
    ),
    path(
        "shipments/<int:shipment_id>/deliver/",
        api_fulfilment.ShipmentDeliverApi.as_view(),
        name="api-shipment-deliver",
    ),
    path(
        "shipments/<int:shipment_id>/lost/",
        api_fulfilment.ShipmentLostApi.as_view(),
        name="api-shipment-lost",
    ),
    path(
        "shipments/<int:shipment_id>/confirm/",
        api_fulfilment.ShipmentConfirmApi.as_view(),
        name="api-shipment-confirm",
    ),
    path(
        "factory-board/<str:token>/orders/",
        api_fulfilment.BoardOrdersApi.as_view(),
        name="api-factory-board-orders",
    ),
    path(
        "factory-board/<str:token>/orders/<int:order_id>/shipments/",
        api_fulfilment.BoardShipmentsApi.as_view(),
        name="api-factory-board-shipments",
    ),
    path(
        "factory-board/<str:token>/orders/<int:order_id>/shipments/import/",
        api_fulfilment.BoardShipmentsImportApi.as_view(),
        name="api-factory-board-shipments-import",
    ),
    path(
        "factory-board/<str:token>/shipments/<int:shipment_id>/deliver/",
        api_fulfilment.BoardShipmentDeliverApi.as_view(),
        name="api-factory-board-shipment-deliver",
    ),
    path(
        "factory-board/<str:token>/shipments/<int:shipment_id>/lost/",
        api_fulfilment.BoardShipmentLostApi.as_view(),
        name="api-factory-board-shipment-lost",
    ),
    path(
        "pledges/<int:pledge_id>/after-sales/",
        api_fulfilment.PledgeAfterSalesApi.as_view(),
        name="api-pledge-after-sales",
    ),
    path("after-sales/", api_fulfilment.AfterSalesListApi.as_view(), name="api-after-sales"),
    path(
        "after-sales/<int:request_id>/approve/",
        api_fulfilment.AfterSalesApproveApi.as_view(),
        name="api-after-sales-approve",
    ),
    path(
        "after-sales/<int:request_id>/decline/",
        api_fulfilment.AfterSalesDeclineApi.as_view(),
        name="api-after-sales-decline",
    ),
    path(
        "after-sales/<int:request_id>/photo/",
        api_fulfilment.AfterSalesPhotoApi.as_view(),
        name="api-after-sales-photo",
    ),
    path(
        "campaigns/<int:campaign_id>/late-risk/",
        api_fulfilment.CampaignLateRiskApi.as_view(),
        name="api-campaign-late-risk",
    ),
]
