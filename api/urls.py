"""``/api/v1/...``, the schema at ``/api/schema/`` and its docs at ``/api/docs/``.

Every URL here authenticates by service token (or, for the schema and the docs, not at
all), so the console's login middleware lets them through."""

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.urls import path, re_path, register_converter
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from api import views

app_name = "api"


class AnyText:
    """An account id as the provider spells it: any characters, slashes and newlines too."""

    regex = "(?s:.+)"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(AnyText, "anytext")


def _open(view):
    return login_not_required(view.as_view())


@login_not_required
def not_found(request, rest: str) -> JsonResponse:
    """Any other address under /api/: a JSON 404, as the endpoints answer, not a page."""
    return JsonResponse({"detail": "no such endpoint"}, status=404)


def _docs(view, **kwargs):
    return login_not_required(view.as_view(**kwargs))


urlpatterns = [
    path("v1/cases/", _open(views.CaseList), name="case_list"),
    path("v1/cases/<int:pk>/", _open(views.CaseDetail), name="case_detail"),
    path("v1/cases/<int:pk>/accounts/", _open(views.CaseAccounts), name="case_accounts"),
    path("v1/cases/<int:pk>/evidence/", _open(views.CaseEvidence), name="case_evidence"),
    path("v1/campaigns/", _open(views.CampaignList), name="campaign_list"),
    path("v1/campaigns/<int:pk>/", _open(views.CampaignDetail), name="campaign_detail"),
    path("v1/accounts/", _open(views.AccountList), name="account_list"),
    path("v1/accounts/<anytext:account_id>/", _open(views.AccountDetail), name="account_detail"),
    path("v1/decisions/", _open(views.DecisionFeed), name="decision_feed"),
    path("v1/banlist/", _open(views.BanListFeed), name="banlist_feed"),
    path("v1/batches/", _open(views.BatchList), name="batch_list"),
    path("v1/batches/<int:pk>/", _open(views.BatchDetail), name="batch_detail"),
    path("v1/flags/", _open(views.FlagCreate), name="flag_create"),
    path("schema/", _docs(SpectacularAPIView), name="schema"),
    path("docs/", _docs(SpectacularSwaggerSplitView, url_name="api:schema"), name="docs"),
    re_path(r"^(?P<rest>(?s:.*))$", not_found),
]
