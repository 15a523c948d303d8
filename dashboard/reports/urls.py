from django.urls import path

from dashboard.reports import views

app_name = "reports"
urlpatterns = [
    path("", views.report_page, name="report_page"),
    path("export/<str:fmt>/", views.report_export, name="report_export"),
    path("subscription/", views.report_subscribe, name="report_subscribe"),
]
