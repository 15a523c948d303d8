from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from dashboard import health, views

urlpatterns = [
    path("", views.overview, name="overview"),
    path("start/", views.landing, name="landing"),
    path("healthz", health.healthz, name="healthz"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("cases/", include("cases.urls")),
    path("", include("cases.accounts.urls")),
    path("detection/", include("detection.urls")),
    path("api/", include("api.urls")),
    path("admin/", admin.site.urls),
]
