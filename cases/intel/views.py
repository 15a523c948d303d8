"""The case's "Watch list" section, and its indicators exported as STIX 2.1 or CSV.

The section follows the case page's other sections: a URL of its own that the page loads
with htmx, and a page of its own without it. The export is made by a POST (it is audited),
with the TLP chosen in the form; a GET shows that form.
"""

from django import forms
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from cases.intel import selectors
from cases.intel.services import FORMATS, case_indicators_export
from cases.views.common import get_case_for_user
from common.htmx import is_fragment, vary_on_fragment
from detection.models import Tlp


class IndicatorExportForm(forms.Form):
    format = forms.ChoiceField(
        choices=[("stix", "STIX 2.1 bundle (JSON)"), ("csv", "CSV (indicator_type, ...)")],
        widget=forms.RadioSelect,
        initial="stix",
    )
    tlp = forms.ChoiceField(
        label="Sharing level (TLP)",
        choices=Tlp.choices,
        initial=Tlp.AMBER,
        help_text="Marks every indicator in the file: how far the recipient may share it.",
    )


@require_GET
@permission_required("cases.view_case", raise_exception=True)
@vary_on_fragment
def case_intel(request: HttpRequest, pk: int) -> HttpResponse:
    """Indicators the case's accounts match and flags other systems raised on them."""
    case = get_case_for_user(request, pk, related=("campaign",))
    context = {"case": case, "section_title": "Watch list", **selectors.case_intel(case)}
    template = "cases/_partials/case_intel.html"
    if is_fragment(request):
        return render(request, template, context)
    return render(request, "cases/case_section.html", {**context, "section_template": template})


@require_http_methods(["GET", "POST"])
@permission_required("cases.export_cases", raise_exception=True)
def case_indicators(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: what the export would hold and the form; POST: the file."""
    case = get_case_for_user(request, pk, related=("campaign",))
    form = IndicatorExportForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and form.cleaned_data["format"] in FORMATS:
        name, content_type, text = case_indicators_export(
            case=case,
            user=request.user,
            fmt=form.cleaned_data["format"],
            tlp=form.cleaned_data["tlp"],
        )
        response = HttpResponse(text, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        response["Cache-Control"] = "no-store"
        return response
    rows = selectors.campaign_indicators(case)
    context = {"case": case, "form": form, "counts": selectors.indicator_counts(rows)}
    return render(request, "cases/intel/indicator_export.html", context)
