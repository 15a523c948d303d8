"""Users, roles and report subscriptions in the admin, with every change written to the audit
log (common.admin); report deliveries read-only; and the backtests' comparison pages
(detection's flags beside analysts' labels and cases)."""

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from cases.labels.selectors import (
    FIGURES,
    backtest_accounts_behind,
    backtest_evaluations,
    campaign_cases,
    label_outcomes,
    live_cases_of,
    shadow_history,
)
from common.admin import AuditedAdmin, ReadOnlyAdmin, announce
from dashboard.charts import shadow_trend
from dashboard.reports.models import ReportDelivery, ReportSubscription
from dashboard.views import chart_entry
from detection.backtest import backtest_cancel
from detection.models import Backtest, BacktestAccount, BacktestCampaign, DetectionConfig

User = get_user_model()
admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class AuditedUserAdmin(AuditedAdmin, UserAdmin):
    pass


@admin.register(Group)
class AuditedGroupAdmin(AuditedAdmin, GroupAdmin):
    pass


def _pager(request, key: str, page) -> dict:
    """Links to the previous and next page of one list, keeping the other lists' pages."""
    links = {}
    for name, number in (
        ("previous_url", page.has_previous() and page.previous_page_number()),
        ("next_url", page.has_next() and page.next_page_number()),
    ):
        if number:
            query = request.GET.copy()
            query[key] = number
            links[name] = f"?{query.urlencode()}#list-{key}"
    return links


# What each figure of the comparison counts, for the heading of its list of accounts.
FIGURE_TITLES = {
    "tp": "Flagged and confirmed",
    "fp": "Flagged and legitimate",
    "fn": "Confirmed and missed",
    "tn": "Legitimate and not flagged",
}


@admin.register(Backtest)
class BacktestAdmin(ReadOnlyAdmin):
    """Backtests, and each one's comparison page.

    Registered here, not in ``detection``: the page sets detection's flags beside analysts'
    labels and cases, which only a room above both may read."""

    list_display = [
        "id",
        "config",
        "baseline",
        "kind",
        "status",
        "progress",
        "window",
        "newly_flagged",
        "no_longer_flagged",
        "created_at",
    ]
    list_filter = ["status", "config"]

    @admin.display(description="kind")
    def kind(self, backtest: Backtest) -> str:
        return f"shadow of run {backtest.run_id}" if backtest.run_id else "backtest"

    @admin.display(description="newly flagged")
    def newly_flagged(self, backtest: Backtest):
        return (backtest.counts or {}).get("newly_flagged", "")

    @admin.display(description="no longer flagged")
    def no_longer_flagged(self, backtest: Backtest):
        return (backtest.counts or {}).get("no_longer_flagged", "")

    # Each list is paged by its own query parameter, so the pages stay independent.
    PER_PAGE = 50
    LISTS = {
        "new": ("Accounts newly flagged", "newly_flagged"),
        "gone": ("Accounts no longer flagged", "no_longer_flagged"),
    }

    @admin.display(description="window")
    def window(self, backtest: Backtest) -> str:
        return f"{backtest.window_start:%Y-%m-%d %H:%M} → {backtest.window_end:%Y-%m-%d %H:%M}"

    def get_urls(self):
        return [
            path(
                "<int:pk>/cancel/",
                self.admin_site.admin_view(self.cancel_view),
                name="detection_backtest_cancel",
            ),
            path(
                "shadow/<int:config_pk>/",
                self.admin_site.admin_view(self.shadow_view),
                name="detection_backtest_shadow",
            ),
            *super().get_urls(),
        ]

    def cancel_view(self, request, pk: int):
        if request.method != "POST" or not request.user.has_perm("detection.add_detectionconfig"):
            raise PermissionDenied
        backtest = get_object_or_404(Backtest, pk=pk)
        with transaction.atomic():
            backtest_cancel(backtest=backtest)
            announce(request, backtest, "changed", {"cancel_requested": [False, True]})
        self.message_user(request, f"Backtest {backtest.pk}: cancel requested.", messages.INFO)
        return HttpResponseRedirect(reverse("admin:detection_backtest_change", args=[pk]))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        backtest = get_object_or_404(
            Backtest.objects.select_related("config", "baseline", "created_by"), pk=object_id
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": backtest,
            "title": str(backtest),
            "can_cancel": request.user.has_perm("detection.add_detectionconfig"),
        }
        if backtest.status == Backtest.Status.SUCCEEDED:
            context.update(self._comparison(request, backtest))
        return TemplateResponse(request, "admin/detection/backtest/detail.html", context)

    def shadow_view(self, request, config_pk: int):
        """A draft's shadow comparisons over time: one row and one chart point per
        scheduled run, each figure linked to the comparison (and accounts) behind it."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        config = get_object_or_404(DetectionConfig, pk=config_pk)
        history = shadow_history(config)
        for point in history:
            point["url"] = reverse("admin:detection_backtest_change", args=[point["backtest"].pk])
            point["evaluations"] = [("base", point["base"]), ("draft", point["draft"])]
        done = [p for p in history if p["draft"] is not None]
        chart = None
        if done:
            chart = chart_entry(
                "shadow",
                shadow_trend(
                    # The run's number keeps two runs in one minute apart on the axis.
                    [
                        f"{p['run'].started_at or p['backtest'].window_end:%Y-%m-%d %H:%M} "
                        f"· run {p['run'].pk}"
                        for p in done
                    ],
                    {
                        f"{figure} {side}": [getattr(p[key], figure) for p in done]
                        for figure in ("precision", "recall")
                        for key, side in (("base", "in force"), ("draft", "draft"))
                    },
                    {
                        "newly flagged": [
                            p["backtest"].counts.get("newly_flagged", 0) for p in done
                        ],
                        "no longer flagged": [
                            p["backtest"].counts.get("no_longer_flagged", 0) for p in done
                        ],
                    },
                    [p["url"] for p in done],
                ),
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "config": config,
            "title": f"{config} in shadow",
            "history": history,
            "chart": chart,
        }
        return TemplateResponse(request, "admin/detection/backtest/shadow.html", context)

    def _behind(self, request, backtest: Backtest) -> dict | None:
        """The accounts behind one figure of the comparison, when a figure's link asked."""
        figure = request.GET.get("figure", "")
        if figure not in FIGURES:
            return None
        side, cell = figure.split("-")
        rows = backtest_accounts_behind(backtest, figure).select_related("account")
        page = Paginator(rows, self.PER_PAGE).get_page(request.GET.get("behind"))
        self._annotate(page)
        version = "the version in force" if side == "base" else "the draft"
        return {
            "key": "behind",
            "title": f"{FIGURE_TITLES[cell]}, under {version}",
            "page": page,
            **_pager(request, "behind", page),
        }

    @staticmethod
    def _annotate(page) -> None:
        """Each row's live case, label and strongest draft signal, two queries a page."""
        pks = [row.account_id for row in page]
        cases = live_cases_of(pks)
        labels = label_outcomes(pks)
        for row in page:
            row.case_id = cases.get(row.account_id)
            row.label = labels.get(row.account_id, "")
            row.top_signal = max(
                row.draft_signals or {"": 0}, key=lambda n: (row.draft_signals or {}).get(n, 0)
            )

    def _comparison(self, request, backtest: Backtest) -> dict:
        base, draft = backtest_evaluations(backtest)
        lists = []
        behind = self._behind(request, backtest)
        if behind:
            lists.append(behind)
        for key, (title, method) in self.LISTS.items():
            rows = getattr(BacktestAccount.objects.filter(backtest=backtest), method)()
            page = Paginator(rows.select_related("account"), self.PER_PAGE).get_page(
                request.GET.get(key)
            )
            self._annotate(page)
            lists.append({"key": key, "title": title, "page": page, **_pager(request, key, page)})
        campaigns = []
        for change, title in (
            (BacktestCampaign.Change.NEW, "Campaigns newly flagged"),
            (BacktestCampaign.Change.GONE, "Campaigns no longer flagged"),
        ):
            rows = BacktestCampaign.objects.filter(backtest=backtest, change=change)
            key = f"c{change}"
            page = Paginator(rows.select_related("campaign"), self.PER_PAGE).get_page(
                request.GET.get(key)
            )
            cases = campaign_cases([c.campaign_id for c in page if c.campaign_id])
            for row in page:
                row.case_id = cases.get(row.campaign_id)
            campaigns.append(
                {"key": key, "title": title, "page": page, **_pager(request, key, page)}
            )
        return {
            "evaluations": [
                ("Version in force", "base", backtest.baseline, base),
                ("Draft", "draft", backtest.config, draft),
            ],
            "lists": lists,
            "campaign_lists": campaigns,
        }


@admin.register(ReportSubscription)
class ReportSubscriptionAdmin(AuditedAdmin):
    """Who receives the period report; an admin can stop a subscription (audited)."""

    list_display = ("user", "frequency", "created_at", "updated_at")
    list_filter = ("frequency",)
    search_fields = ("user__username", "user__email")
    raw_id_fields = ("user",)

    def has_add_permission(self, request) -> bool:
        # People subscribe themselves, from the report's page, to their own address.
        return False


@admin.register(ReportDelivery)
class ReportDeliveryAdmin(ReadOnlyAdmin):
    """Each report emailed or tried: status, attempts and the last mail error."""

    list_display = ("subscription", "period_start", "period_end", "status", "attempts",
                    "attached", "sent_at", "last_error")  # fmt: skip
    list_filter = ("status", "attached")
    search_fields = ("subscription__user__username", "last_error")
