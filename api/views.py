"""The API's endpoints: thin DRF views over ``selectors`` and ``services``.

Authentication is a service token (``api.authentication``); each view names the scope it
needs. Lists are paged by key (``api.pagination``); the two feeds hand back a cursor to keep.
"""

import hashlib
import json

from django.conf import settings
from django.http import Http404
from django.shortcuts import get_object_or_404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import (
    APIException,
    ParseError,
    UnsupportedMediaType,
    ValidationError,
)
from rest_framework.response import Response

from api import selectors, services
from api.filters import AccountFilter, CampaignFilter, CaseFilter
from api.models import Scope
from api.pagination import FeedPagination, KeysetPagination
from api.serializers import (
    AccountDetailSerializer,
    AccountSerializer,
    BanListEntrySerializer,
    BatchPushSerializer,
    BatchReportSerializer,
    BatchSerializer,
    CampaignSerializer,
    CaseAccountSerializer,
    CaseDetailSerializer,
    CaseSerializer,
    DecisionSerializer,
    ErrorSerializer,
    EvidenceSummarySerializer,
    FlagPushSerializer,
    FlagSerializer,
)
from cases.enforcement.models import BanListEntry
from cases.models import Case
from cases.paging import SortKey
from detection.indicators.services import ExternalFlagError
from detection.ingest.formats import refuse_non_json
from detection.models import Account
from detection.models import Campaign as CampaignModel


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "the request body is too large"
    default_code = "too_large"


class IdempotencyKeyReused(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "this Idempotency-Key was used with a different batch"
    default_code = "idempotency_conflict"


def _batch_body(request):
    """The pushed batch's JSON, read here rather than through ``request.data``, which reads
    the body under Django's DATA_UPLOAD_MAX_MEMORY_SIZE (a form's limit, 2.5 MB): a batch's
    own limit is API_BATCH_MAX_BYTES, checked before a byte is read."""
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > settings.API_BATCH_MAX_BYTES:
        raise PayloadTooLarge(f"at most {settings.API_BATCH_MAX_BYTES} bytes a batch; split it")
    if request.content_type.split(";")[0].strip() != "application/json":
        raise UnsupportedMediaType(request.content_type)
    raw = request._request.read(int(length))
    try:
        return json.loads(raw, parse_constant=refuse_non_json)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ParseError(f"JSON parse error: {exc}") from None


class NoStore:
    """What every endpoint shares. A query parameter it does not know is refused (400), so a
    misspelt filter is an error rather than a silently unfiltered listing; and answers carry
    data about investigated accounts, so no cache keeps them."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authenticated and authorised first
        known = set()
        if getattr(self, "filterset_class", None) is not None:
            known |= set(self.filterset_class.base_filters)
        if getattr(self, "pagination_class", None) is not None:
            known |= {"cursor", "limit"}
        unknown = sorted(set(request.query_params) - known)
        if unknown:
            raise ValidationError({name: ["not a parameter of this endpoint"] for name in unknown})

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        return response


# Cases, campaigns, accounts, evidence (scope: read)


class CaseList(NoStore, generics.ListAPIView):
    """Cases, highest risk first unless ``ordering`` says otherwise."""

    required_scope = Scope.READ
    serializer_class = CaseSerializer
    pagination_class = KeysetPagination
    filter_backends = [DjangoFilterBackend]
    filterset_class = CaseFilter
    queryset = Case.objects.none()

    def get_queryset(self):
        return selectors.cases_for_api()


class CaseDetail(NoStore, generics.RetrieveAPIView):
    required_scope = Scope.READ
    serializer_class = CaseDetailSerializer
    queryset = Case.objects.none()

    def get_object(self):
        try:
            return selectors.case_for_api(self.kwargs["pk"])
        except Case.DoesNotExist:
            raise Http404("no such case") from None


class CaseAccounts(NoStore, generics.ListAPIView):
    """The accounts on a case now."""

    required_scope = Scope.READ
    serializer_class = CaseAccountSerializer
    pagination_class = KeysetPagination
    queryset = Case.objects.none()

    def get_queryset(self):
        case = get_object_or_404(Case.objects.only("pk"), pk=self.kwargs["pk"])
        return selectors.case_accounts_for_api(case)


class CaseEvidence(NoStore, generics.GenericAPIView):
    required_scope = Scope.READ
    serializer_class = EvidenceSummarySerializer
    queryset = Case.objects.none()

    @extend_schema(
        responses={
            200: EvidenceSummarySerializer,
            404: OpenApiResponse(
                ErrorSerializer, description="No such case, or no finished evidence yet."
            ),
        }
    )
    def get(self, request, pk: int):
        """The case's latest finished evidence snapshot, as figures per section."""
        case = get_object_or_404(Case.objects.only("pk"), pk=pk)
        summary = selectors.evidence_summary(case)
        if summary is None:
            raise Http404("no finished evidence for this case yet")
        return Response(EvidenceSummarySerializer(summary).data)


class CampaignList(NoStore, generics.ListAPIView):
    required_scope = Scope.READ
    serializer_class = CampaignSerializer
    pagination_class = KeysetPagination
    filter_backends = [DjangoFilterBackend]
    filterset_class = CampaignFilter
    queryset = CampaignModel.objects.none()

    def get_queryset(self):
        return selectors.campaigns_for_api()


class CampaignDetail(NoStore, generics.RetrieveAPIView):
    required_scope = Scope.READ
    serializer_class = CampaignSerializer

    def get_queryset(self):
        return selectors.campaigns_for_api()


class AccountList(NoStore, generics.ListAPIView):
    """Accounts with their latest risk score, flag and campaign."""

    required_scope = Scope.READ
    serializer_class = AccountSerializer
    pagination_class = KeysetPagination
    filter_backends = [DjangoFilterBackend]
    filterset_class = AccountFilter
    queryset = Account.objects.none()

    def get_queryset(self):
        return selectors.accounts_for_api()


class AccountDetail(NoStore, generics.GenericAPIView):
    required_scope = Scope.READ
    serializer_class = AccountDetailSerializer
    queryset = Account.objects.none()

    def get(self, request, account_id: str):
        """One account by the provider's account id, with its latest signals and its cases."""
        try:
            account = selectors.account_for_api(account_id)
        except Account.DoesNotExist:
            raise Http404("no such account") from None
        context = {
            "signals": selectors.account_latest_signals(account),
            "cases": selectors.account_case_ids(account),
        }
        return Response(AccountDetailSerializer(account, context=context).data)


# Decisions and the ban list (scope: decide)


class DecisionFeed(NoStore, generics.ListAPIView):
    """Approved enforcement actions and reversals, oldest first: the webhook's messages,
    to pull instead of (or as well as) receiving them. Keep ``next_cursor`` and pass it as
    ``?cursor=`` next time to get only what was decided since."""

    required_scope = Scope.DECIDE
    serializer_class = DecisionSerializer
    pagination_class = FeedPagination

    def get_queryset(self):
        return selectors.decisions_feed()


class BanListFeed(NoStore, generics.ListAPIView):
    """Ban list entries in the order they last changed (listed, or lifted by a reversal).
    Read from no cursor for the whole list; then pass ``next_cursor`` back for the changes."""

    required_scope = Scope.DECIDE
    serializer_class = BanListEntrySerializer
    pagination_class = FeedPagination

    def get_queryset(self):
        return selectors.banlist_feed()

    @staticmethod
    def sort_keys(queryset):
        # An annotation (``changed_at``) the generic key reader cannot see: the keys by hand.
        listed_at = BanListEntry._meta.get_field("listed_at")
        pk = BanListEntry._meta.pk
        return [SortKey("changed_at", False, listed_at, False), SortKey("id", False, pk, False)]


# Ingest (scope: ingest)


class BatchList(NoStore, generics.ListCreateAPIView):
    required_scope = Scope.INGEST
    pagination_class = KeysetPagination

    def get_queryset(self):
        return selectors.batches_of(self.request.auth)

    def get_serializer_class(self):
        return BatchPushSerializer if self.request.method == "POST" else BatchSerializer

    @extend_schema(
        summary="Push a batch of telemetry",
        request=BatchPushSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                location=OpenApiParameter.HEADER,
                required=False,
                description="Any string up to 255 characters. A retry with the same key and "
                "body returns the first batch (200) rather than a second one.",
            )
        ],
        responses={
            202: BatchSerializer,
            200: BatchSerializer,
            409: OpenApiResponse(
                ErrorSerializer, description="The Idempotency-Key came with another body."
            ),
            413: OpenApiResponse(
                ErrorSerializer, description="The body is larger than API_BATCH_MAX_BYTES."
            ),
            415: OpenApiResponse(ErrorSerializer, description="The body is not JSON."),
        },
    )
    def post(self, request):
        """Store the batch and queue its ingest; poll its report at ``/batches/{id}/``."""
        key = request.headers.get("Idempotency-Key", "").strip()
        if len(key) > 255:
            raise ValidationError({"Idempotency-Key": "at most 255 characters"})
        incoming = BatchPushSerializer(data=_batch_body(request))
        incoming.is_valid(raise_exception=True)
        kind, records = incoming.validated_data["kind"], incoming.validated_data["records"]
        body = json.dumps([kind, records], sort_keys=True, ensure_ascii=True)
        try:
            pushed = services.batch_push(
                token=request.auth,
                kind=kind,
                records=records,
                idempotency_key=key,
                body_digest=hashlib.sha256(body.encode("ascii")).hexdigest(),
            )
        except services.IdempotencyConflict:
            raise IdempotencyKeyReused() from None
        data = BatchSerializer(pushed.batch).data
        response = Response(
            data, status=status.HTTP_202_ACCEPTED if pushed.created else status.HTTP_200_OK
        )
        response["Location"] = request.build_absolute_uri(f"{pushed.batch.pk}/")
        return response


class BatchDetail(NoStore, generics.GenericAPIView):
    required_scope = Scope.INGEST
    serializer_class = BatchReportSerializer

    def get_queryset(self):
        return selectors.batches_of(self.request.auth)

    def get(self, request, pk: int):
        """A batch's ingest report: status, counts, and every reject and notice by index."""
        batch = self.get_object()
        rejects, notices = selectors.batch_entries(batch)
        context = {"rejects": rejects, "notices": notices}
        return Response(BatchReportSerializer(batch, context=context).data)


class FlagCreate(NoStore, generics.CreateAPIView):
    """Flags from other systems (the account platform, a fraud engine, a partner): an
    account's flag counts toward the ``external_flag`` signal at the next detection run; an
    indicator's joins the watch list and marks the accounts that match it. Analysts see each
    flag, with its source, on the account's and its cases' pages."""

    required_scope = Scope.INGEST
    serializer_class = FlagPushSerializer

    @extend_schema(
        summary="Flag an account or an indicator",
        request=FlagPushSerializer,
        responses={
            201: FlagSerializer,
            200: OpenApiResponse(
                FlagSerializer, description="This external_id was flagged before: that flag."
            ),
        },
    )
    def post(self, request):
        incoming = FlagPushSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            flag, created = services.flag_record(token=request.auth, data=incoming.validated_data)
        except ExternalFlagError as exc:
            raise ValidationError({"flag": [str(exc)]}) from None
        return Response(
            FlagSerializer(flag).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )
