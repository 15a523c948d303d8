"""The account pages and search, at the root of the site (``/accounts/...``, ``/search/``).

A case's related accounts are a page of the case (``cases:case_related``). The login and
logout pages (``dashboard/urls.py``) and the paths below are matched before an account's own
page, so an account whose id is one of them ("login", "add-to-case", "shared/card", ...) is
reached through search or a pivot rather than by its own URL."""

from django.urls import path

from cases.accounts import views

app_name = "accounts"

urlpatterns = [
    path("search/", views.search, name="search"),
    path("accounts/shared/<slug:kind>/", views.account_pivot, name="pivot"),
    path("accounts/add-to-case/", views.accounts_add_to_case, name="add_to_case"),
    path("accounts/open-case/", views.accounts_open_case, name="open_case"),
    # Last: an account id may hold a slash, so this matches everything under accounts/.
    path("accounts/<path:account_id>/", views.account_detail, name="account_detail"),
]
