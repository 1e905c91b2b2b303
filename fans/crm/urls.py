"""Fan CRM pages (the REST API is in fans/api_urls.py)."""

from django.urls import path

from fans.crm import views as crm_views

urlpatterns = [
    path("fans/", crm_views.fan_list, name="crm-fans"),
    path("fans/import/", crm_views.fan_import, name="crm-import"),
    path("fans/import/template.csv", crm_views.fan_import_template, name="crm-import-template"),
    path("fans/<int:fan_id>/", crm_views.fan_detail, name="crm-fan"),
    path("segments/", crm_views.segment_list, name="crm-segments"),
    path("team/", crm_views.team, name="crm-team"),
    path("me/privacy/", crm_views.my_privacy, name="my-privacy"),
]
