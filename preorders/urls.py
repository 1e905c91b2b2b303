from django.urls import path

from preorders import views, views_box, views_fulfilment, views_pledges, views_settlement, views_visitor

urlpatterns = [
    path("factory-board/<str:token>/", views.factory_board_page, name="factory-board"),
    path(
        "factory-board/<str:token>/statement.csv",
        views_settlement.factory_statement_csv,
        name="factory-statement-csv",
    ),
    path("factory-orders/<int:order_id>/export.csv", views.factory_order_csv, name="factory-order-csv"),
    path("factory-orders/<int:order_id>/print/", views.factory_order_print, name="factory-order-print"),
    # Owner pages (shop staff).
    path("campaigns/", views.campaign_list_page, name="campaigns"),
    path("campaigns/new/", views.campaign_new, name="campaign-new"),
    path("campaigns/<int:campaign_id>/", views.campaign_detail_page, name="campaign-detail"),
    path("campaigns/<int:campaign_id>/poster.png", views.campaign_poster, name="campaign-poster"),
    path("campaigns/<int:campaign_id>/box/", views_box.campaign_box_page, name="campaign-box"),
    path(
        "campaigns/<int:campaign_id>/settlement/",
        views_settlement.campaign_settlement_page,
        name="campaign-settlement",
    ),
    path(
        "campaigns/<int:campaign_id>/settlement.csv",
        views_settlement.campaign_settlement_csv,
        name="campaign-settlement-csv",
    ),
    path("shop/settlement/", views_settlement.shop_settlement_page, name="shop-settlement"),
    path("shop/settlement.csv", views_settlement.shop_settlement_csv, name="shop-settlement-csv"),
    path(
        "campaigns/<int:campaign_id>/after-sales/",
        views_fulfilment.campaign_after_sales_page,
        name="campaign-after-sales",
    ),
    # Fan pages.
    path("campaigns/<int:campaign_id>/join/", views.campaign_join, name="campaign-join"),
    path("c/<int:campaign_id>/", views.campaign_fan_page, name="campaign-fan"),
    path("c/<int:campaign_id>/share.png", views_visitor.campaign_share_image, name="campaign-share-image"),
    path("me/pledges/", views_pledges.my_pledges, name="my-pledges"),
    path("me/orders/", views_pledges.my_orders, name="my-orders"),
    path("me/box/<int:pledge_id>/", views_box.pledge_box_page, name="pledge-box"),
    path(
        "me/orders/<int:pledge_id>/after-sales/",
        views_fulfilment.pledge_after_sales_page,
        name="pledge-after-sales",
    ),
]
