from django.urls import path

from . import views

urlpatterns = [
    path("", views.index, name="vt-index"),
    path("style.json", views.style, name="vt-style"),
    path("<slug:slug>.json", views.tilejson_view, name="vt-tilejson"),
    path("<slug:slug>/<int:z>/<int:x>/<int:y>.pbf", views.tile, name="vt-tile"),
]
