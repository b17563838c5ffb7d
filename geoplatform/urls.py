from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

admin.site.site_header = "geoplatform"
admin.site.site_title = "geoplatform"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("ingest/", include("ingest.urls")),
    path("poi/", include("ingest.poi.urls")),
    path("api/poi/", include("ingest.poi.api_urls")),
    path("ogcapi/", include("layers.ogcapi.urls")),
    path("vt/", include("tiles.urls")),
    path("", include("layers.urls")),
]
