"""What the API returns and accepts. Text from investigated accounts (domains, org names,
signal reasons) is returned as JSON strings, never rendered: escaping is the reader's job."""

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.models import PushedBatch
from cases.enforcement.models import BanListEntry, EnforcementAction, OutboxMessage
from cases.models import Case, CaseAccount
from detection.indicators.models import ExternalFlag, Tlp
from detection.models import Account, Campaign, IngestReport


class CaseSerializer(serializers.ModelSerializer):
    campaign_label = serializers.CharField(source="campaign.label", allow_null=True, default=None)
    assignee = serializers.CharField(source="assignee.username", allow_null=True, default=None)
    tags = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()

    class Meta:
        model = Case
        fields = [
            "id",
            "title",
            "kind",
            "status",
            "priority",
            "risk_score",
            "account_count",
            "exchange_count",
            "traffic_share",
            "campaign",
            "campaign_label",
            "assignee",
            "tags",
            "resolution",
            "merged_into",
            "opened_at",
            "due_at",
            "decided_at",
            "updated_at",
            "url",
        ]

    def get_tags(self, case: Case) -> list[str]:
        return sorted(tag.name for tag in case.tags.all())

    def get_url(self, case: Case) -> str:
        return f"{settings.SITE_URL}/cases/{case.pk}/"


class CaseDetailSerializer(CaseSerializer):
    explanation = serializers.JSONField(help_text="Why detection flagged the case.")

    class Meta(CaseSerializer.Meta):
        fields = [*CaseSerializer.Meta.fields, "explanation"]


class CaseAccountSerializer(serializers.ModelSerializer):
    account_id = serializers.CharField(source="account.account_id")
    platform_status = serializers.CharField(source="account.platform_status")

    class Meta:
        model = CaseAccount
        fields = ["account_id", "platform_status", "risk_score", "added_at"]


class EvidenceSectionSerializer(serializers.Serializer):
    kind = serializers.CharField()
    source = serializers.CharField()
    figures = serializers.DictField(
        child=serializers.FloatField(), help_text="The numbers at the top of the section."
    )


class EvidenceSummarySerializer(serializers.Serializer):
    snapshot = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    window_start = serializers.DateTimeField(allow_null=True)
    window_end = serializers.DateTimeField(allow_null=True)
    account_count = serializers.IntegerField()
    sections = EvidenceSectionSerializer(many=True)


class CampaignSerializer(serializers.ModelSerializer):
    class Meta:
        model = Campaign
        fields = [
            "id",
            "label",
            "member_count",
            "exchange_count",
            "risk_score",
            "is_active",
            "evidence",
            "created_at",
        ]


class AccountSerializer(serializers.ModelSerializer):
    risk_score = serializers.FloatField(source="latest_risk", allow_null=True)
    flagged = serializers.BooleanField(source="latest_flagged", allow_null=True)
    campaign = serializers.IntegerField(source="latest_campaign", allow_null=True)

    class Meta:
        model = Account
        fields = [
            "account_id",
            "created_at",
            "email_domain",
            "org_id",
            "payment_fingerprint",
            "country",
            "plan",
            "is_placeholder",
            "platform_status",
            "first_ingested_at",
            "risk_score",
            "flagged",
            "campaign",
        ]


# A signal as detection explains it: name, value, threshold, contribution, reason, ...
SIGNALS_SCHEMA = {"type": "array", "items": {"type": "object", "additionalProperties": True}}


class AccountDetailSerializer(AccountSerializer):
    signals = serializers.SerializerMethodField()
    cases = serializers.SerializerMethodField()

    class Meta(AccountSerializer.Meta):
        fields = [*AccountSerializer.Meta.fields, "signals", "cases"]

    @extend_schema_field(SIGNALS_SCHEMA)
    def get_signals(self, account: Account) -> list:
        return self.context["signals"]

    def get_cases(self, account: Account) -> list[int]:
        return self.context["cases"]


class DecisionSerializer(serializers.ModelSerializer):
    """One approved decision: the webhook's body, and where the action stands now."""

    action_id = serializers.IntegerField(source="action.pk")
    action_status = serializers.ChoiceField(
        source="action.status", choices=EnforcementAction.Status.choices
    )
    payload = serializers.JSONField(
        help_text="Exactly what the webhook receives (docs/enforcement.md)."
    )

    class Meta:
        model = OutboxMessage
        fields = ["id", "action_id", "action_status", "created_at", "payload"]


class BanListEntrySerializer(serializers.ModelSerializer):
    account_id = serializers.CharField(source="account.account_id")
    action = serializers.ChoiceField(source="kind", choices=EnforcementAction.Kind.choices)
    platform_status = serializers.SerializerMethodField()
    action_id = serializers.IntegerField()
    case_id = serializers.IntegerField(source="action.case_id")
    in_force = serializers.SerializerMethodField()
    changed_at = serializers.DateTimeField()

    class Meta:
        model = BanListEntry
        fields = [
            "account_id",
            "action",
            "platform_status",
            "action_id",
            "case_id",
            "listed_at",
            "lifted_at",
            "in_force",
            "changed_at",
        ]

    def get_platform_status(self, entry: BanListEntry) -> str:
        return EnforcementAction.PLATFORM_STATUS.get(entry.kind, "")

    def get_in_force(self, entry: BanListEntry) -> bool:
        return entry.lifted_at is None


class BatchPushSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=IngestReport.Kind.choices)
    records = serializers.ListField(
        # Any JSON value: one that is not a record (a null, a number) is that row's reject.
        child=serializers.JSONField(allow_null=True),
        allow_empty=False,
        min_length=1,
        help_text="Records in the ingest format (docs/ingest.md). A record that breaks the "
        "contract is rejected by its index in this list; the rest load.",
    )

    def validate_records(self, records: list) -> list:
        limit = settings.API_BATCH_MAX_RECORDS
        if len(records) > limit:
            raise serializers.ValidationError(f"at most {limit} records a batch; split it")
        return records


class CountsSerializer(serializers.ModelSerializer):
    class Meta:
        model = IngestReport
        fields = [
            "rows_read",
            "loaded",
            "duplicates",
            "rejected",
            "placeholders",
            "placeholders_filled",
            "changed",
            "differing",
            "future",
            "cleaned",
        ]


# A running ingest that stopped making progress is reported as such: its process is gone
# and nothing will finish it, so a client polling for "done" or "failed" must not wait on.
BATCH_STATUSES = [*IngestReport.Status.choices, ("interrupted", "Interrupted")]


class BatchSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()
    counts = CountsSerializer(source="report")
    error = serializers.CharField(source="report.error")
    started_at = serializers.DateTimeField(source="report.started_at", allow_null=True)
    finished_at = serializers.DateTimeField(source="report.finished_at", allow_null=True)

    class Meta:
        model = PushedBatch
        fields = [
            "id",
            "kind",
            "records",
            "idempotency_key",
            "status",
            "counts",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]

    @extend_schema_field(serializers.ChoiceField(choices=BATCH_STATUSES))
    def get_status(self, batch: PushedBatch) -> str:
        return "interrupted" if batch.report.is_interrupted() else batch.report.status


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


class RowEntrySerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="The record's position in the batch, from 0.")
    reason = serializers.CharField()


class NoticeSerializer(RowEntrySerializer):
    type = serializers.CharField()


class BatchReportSerializer(BatchSerializer):
    rejects = serializers.SerializerMethodField()
    notices = serializers.SerializerMethodField()

    class Meta(BatchSerializer.Meta):
        fields = [*BatchSerializer.Meta.fields, "rejects", "notices"]

    @extend_schema_field(RowEntrySerializer(many=True))
    def get_rejects(self, batch) -> list:
        return self.context["rejects"]

    @extend_schema_field(NoticeSerializer(many=True))
    def get_notices(self, batch) -> list:
        return self.context["notices"]


class FlagPushSerializer(serializers.Serializer):
    """An account or an indicator that another system flagged: exactly one of the two."""

    account_id = serializers.CharField(
        required=False, allow_blank=True, max_length=255, help_text="The provider's account id."
    )
    indicator_kind = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=64,
        help_text="ip, cidr, asn, email_domain, payment_fingerprint, prompt_template or "
        "account_id (Meta's and STIX's spellings are accepted too).",
    )
    indicator_value = serializers.CharField(
        required=False, allow_blank=True, max_length=2048, trim_whitespace=False
    )
    reason = serializers.CharField(max_length=5000, help_text="Why the other system flagged it.")
    external_id = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=255,
        help_text="The flag's id in the other system: sending it again changes nothing.",
    )
    tlp = serializers.ChoiceField(choices=Tlp.choices, default=Tlp.AMBER)

    def validate(self, data: dict) -> dict:
        account = bool(data.get("account_id"))
        indicator = bool(data.get("indicator_kind") or data.get("indicator_value"))
        if account == indicator:
            raise serializers.ValidationError(
                "name either an account (account_id) or an indicator (indicator_kind and "
                "indicator_value), not both"
            )
        return data


class FlagSerializer(serializers.ModelSerializer):
    account_id = serializers.CharField(source="account.account_id", default=None)
    indicator_kind = serializers.CharField(source="indicator.kind", default=None)
    indicator_value = serializers.CharField(source="indicator.value", default=None)

    class Meta:
        model = ExternalFlag
        fields = [
            "id",
            "source",
            "external_id",
            "account_id",
            "indicator_kind",
            "indicator_value",
            "reason",
            "created_at",
        ]
