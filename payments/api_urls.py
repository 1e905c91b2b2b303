from django.urls import path

from payments import api

urlpatterns = [
    path("payments/webhook/", api.PaymentWebhookApi.as_view(), name="api-payments-webhook"),
    path("payment-simulator/rules/", api.SimulatorRulesApi.as_view(), name="api-payment-simulator-rules"),
]
