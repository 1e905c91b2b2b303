from django.urls import URLPattern

api: list[URLPattern] = []
pages: list[URLPattern] = []
