from django.urls import path

from cases import views

app_name = "cases"

urlpatterns = [
    path("", views.case_queue, name="case_queue"),
    path("<int:pk>/", views.case_detail, name="case_detail"),
]
