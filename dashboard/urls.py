from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from dashboard import health, sso, views

urlpatterns = [
    path("", views.overview, name="overview"),
    path("start/", views.landing, name="landing"),
    path("signals/quality/", views.signal_quality, name="signal_quality"),
    path("export/<str:fmt>/", views.overview_export, name="overview_export"),
    path("healthz", health.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("accounts/login/", sso.LoginView.as_view(), name="login"),
    path("oidc/authenticate/", sso.sso_start, name="oidc_authentication_init"),
    path("oidc/callback/", sso.sso_callback, name="oidc_authentication_callback"),
    path("admin/login/", sso.admin_login),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("cases/", include("cases.urls")),
    path("reports/", include("dashboard.reports.urls")),
    path("", include("cases.accounts.urls")),
    path("detection/", include("detection.urls")),
    path("api/", include("api.urls")),
    path("admin/", admin.site.urls),
]
