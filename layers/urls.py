from django.urls import path

from . import api, views

urlpatterns = [
    path("", views.home, name="home"),
    path("layers/<slug:slug>/", views.layer_page, name="layer"),
    path("healthz", api.health, name="health"),
    path("api/layers/", api.layer_list, name="api-layers"),
    path("api/layers/<slug:slug>/", api.layer_detail, name="api-layer"),
    path("api/layers/<slug:slug>/features.geojson", api.layer_features, name="api-layer-features"),
    path("api/elevation", api.elevation, name="api-elevation"),
    path("api/elevation/profile", api.elevation_profile, name="api-elevation-profile"),
]
