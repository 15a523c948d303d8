from django.urls import path

from detection import views

app_name = "detection"

urlpatterns = [
    path("runs/", views.run_list, name="run_list"),
]
