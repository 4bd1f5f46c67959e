"""The co-op API's endpoints. Each parses, calls one function of
``loans.api.ingest`` (or reads one scoped queryset) and renders; each
declares the permission it needs (``required_permission``)."""

import datetime

from django import forms
from django.db.models import DecimalField, ExpressionWrapper, F
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.services import personal_data_export_log
from common.history import client_ip
from loans.ledger.selectors import ledger_total
from loans.models import Application, LedgerEntry, Loan

from . import ingest
from .exceptions import ApiError, ApiErrors
from .serializers import (
    ApplicationSerializer,
    BatchResultSerializer,
    ErrorEnvelopeSerializer,
    InterestPaymentSerializer,
    LoanCreateSerializer,
    LoanSerializer,
    RepaymentSerializer,
    ReversalCreateSerializer,
    ReversalSerializer,
)

_ERROR_DESCRIPTIONS = {
    400: "The request is malformed or breaks a rule. `errors` lists every problem, each with "
    "`index` for a row of a posted list. Nothing was written.",
    401: "No API key, or an unknown or revoked one.",
    403: "The key's account is not a co-op service account, or lacks the permission.",
    404: "No such record for this co-op (or an invalid page cursor).",
    409: "The request contradicts what is already recorded: the same txn_id or contract "
    "number with different content. Nothing was written.",
    413: "The body is larger than the server accepts (DATA_UPLOAD_MAX_MEMORY_SIZE, 2.5 MB by "
    "default); send smaller batches.",
    415: "The body is not JSON.",
    429: "Too many requests for this key; retry after the seconds in the Retry-After header.",
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """The schema's error responses (the error envelope) for ``codes``."""
    return {
        code: OpenApiResponse(ErrorEnvelopeSerializer, description=_ERROR_DESCRIPTIONS[code])
        for code in codes
    }


class SyncPagination(CursorPagination):
    """Pages in the order records changed, stable while records keep changing:
    follow ``next`` until it is null, then keep the newest ``updated_at`` seen
    for the next run's ``updated_since``."""

    ordering = ("updated_at", "id")
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000

    def get_page_size(self, request) -> int:
        # DRF falls back to the default on a bad value; say so instead.
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= self.max_page_size):
            message = _("Give a whole number from 1 to %(max)d.") % {"max": self.max_page_size}
            raise exceptions.ValidationError({self.page_size_query_param: message}, code="invalid")
        return int(raw)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
        return parameters


class CoopApiView(APIView):
    """An endpoint for the co-op's service account; ``request.auth`` is its key."""

    @property
    def coop(self):
        return self.request.auth.coop

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # "?updated_since=" with nothing is a client's mistake, not "no filter".
        blank = [name for name, value in request.query_params.items() if value == ""]
        if blank:
            message = _("Give a value, or leave the parameter out.")
            raise exceptions.ValidationError(dict.fromkeys(blank, message), code="blank")

    def is_fake(self) -> bool:
        """True while drf-spectacular inspects the view to write the schema."""
        return getattr(self, "swagger_fake_view", False)


def parsed_query(serializer_class, data) -> dict:
    """``data`` checked by ``serializer_class``; a 400 in the envelope if bad."""
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _rejected(rejected: ingest.RejectedError, *, batch: bool = False) -> ApiErrors:
    return ApiErrors(rejected.errors, batch=batch)


class _UtcIsoDateTimeField(IsoDateTimeField):
    def to_python(self, value):
        try:
            parsed = super().to_python(value)
            # In UTC: PostgreSQL refuses offsets beyond ±15:59 that ISO 8601
            # allows, and a time near year 1 may not exist in UTC at all.
            return parsed.astimezone(datetime.UTC) if parsed else parsed
        except OverflowError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


class UpdatedSinceFilter(filters.IsoDateTimeFilter):
    """Records changed at or after an ISO 8601 date and time."""

    field_class = _UtcIsoDateTimeField

    def __init__(self, **kwargs):
        super().__init__(field_name="updated_at", lookup_expr="gte", **kwargs)


# Applications ------------------------------------------------------------------


class ApplicationFilter(filters.FilterSet):
    state = filters.ChoiceFilter(
        choices=[(Application.State.RELEASED, "released")],
        method="any_state",
        help_text="Only released applications are served (the default).",
    )
    updated_since = UpdatedSinceFilter(
        help_text="ISO 8601 date and time; applications changed at or after it."
    )

    class Meta:
        model = Application
        fields = ["state", "updated_since"]

    def any_state(self, queryset, name, value):
        return queryset


class ApplicationList(CoopApiView, generics.ListAPIView):
    """Released applications of the co-op's county, with the whole ID number
    the contract needs. Every page served is logged as an export of
    personal data."""

    required_permission = "loans.view_application"
    serializer_class = ApplicationSerializer
    filterset_class = ApplicationFilter
    pagination_class = SyncPagination

    def get_queryset(self):
        if self.is_fake():
            return Application.objects.none()
        return (
            ingest.coop_applications(actor=self.request.user, coop=self.coop)
            .filter(state=Application.State.RELEASED)
            .select_related(
                "programme",
                "township",
                "industry",
                "borrower__household__village_group__parent",
                "enterprise__village",
                "loan",
            )
        )

    @extend_schema(
        responses={
            200: ApplicationSerializer(many=True),
            **error_responses(400, 401, 403, 404, 429),
        }
    )
    def get(self, request, *args, **kwargs):
        response = self.list(request, *args, **kwargs)
        personal_data_export_log(
            request=request,
            what="api: applications",
            row_count=len(response.data["results"]),
            filters=request.GET.urlencode(),
        )
        return response


# Loans ----------------------------------------------------------------------------


class LoanFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=Loan.Status.choices)
    updated_since = UpdatedSinceFilter(
        help_text="ISO 8601 date and time; loans changed (or posted to) at or after it."
    )

    class Meta:
        model = Loan
        fields = ["status", "updated_since"]


def _with_position(queryset):
    """Loans with the totals posted and the balance left (reversed entries excluded)."""
    money = DecimalField(max_digits=14, decimal_places=2)
    return (
        queryset.select_related("township")
        .annotate(
            principal_repaid=ledger_total(LedgerEntry.Kind.PRINCIPAL, None),
            interest_paid=ledger_total(LedgerEntry.Kind.INTEREST, None),
        )
        .annotate(
            balance=ExpressionWrapper(F("principal") - F("principal_repaid"), output_field=money)
        )
    )


class LoanList(CoopApiView, generics.ListAPIView):
    """The co-op's loans (GET), and a new contract (POST)."""

    required_permission = {"GET": "loans.view_loan", "POST": "loans.add_loan"}
    serializer_class = LoanSerializer
    filterset_class = LoanFilter
    pagination_class = SyncPagination

    def get_queryset(self):
        if self.is_fake():
            return Loan.objects.none()
        return _with_position(ingest.coop_loans(actor=self.request.user, coop=self.coop))

    @extend_schema(
        responses={200: LoanSerializer(many=True), **error_responses(400, 401, 403, 404, 429)}
    )
    def get(self, request, *args, **kwargs):
        return self.list(request, *args, **kwargs)

    @extend_schema(
        request=LoanCreateSerializer,
        responses={
            201: OpenApiResponse(LoanSerializer, description="The contract was recorded."),
            200: OpenApiResponse(
                LoanSerializer,
                description="This contract number was already recorded with the same content; "
                "nothing changed.",
            ),
            **error_responses(400, 401, 403, 409, 413, 415, 429),
        },
    )
    def post(self, request, *args, **kwargs):
        fields = parsed_query(LoanCreateSerializer, request.data)
        try:
            loan, created = ingest.loan_post(actor=request.user, coop=self.coop, **fields)
        except ingest.RejectedError as rejected:
            raise _rejected(rejected) from None
        loan = self.get_queryset().get(pk=loan.pk)
        return Response(
            LoanSerializer(loan).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class LoanDetail(CoopApiView, generics.RetrieveAPIView):
    """One of the co-op's loans by its contract number."""

    required_permission = "loans.view_loan"
    serializer_class = LoanSerializer

    def get_queryset(self):
        if self.is_fake():
            return Loan.objects.none()
        return _with_position(ingest.coop_loans(actor=self.request.user, coop=self.coop))

    def get_object(self):
        contract_no = self.kwargs["contract_no"]
        if "\x00" in contract_no:
            # No contract number holds one (the API refuses it), and
            # PostgreSQL refuses to compare text with it.
            raise Http404
        return get_object_or_404(self.get_queryset(), contract_no=contract_no)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "contract_no",
                str,
                OpenApiParameter.PATH,
                description="The contract number the co-op posted.",
                examples=[OpenApiExample("contract", value="MJ-2025-0001")],
            )
        ],
        responses={200: LoanSerializer, **error_responses(400, 401, 403, 404, 429)},
    )
    def get(self, request, *args, **kwargs):
        return self.retrieve(request, *args, **kwargs)


# Ledger ---------------------------------------------------------------------------


class BatchAutoSchema(AutoSchema):
    """The request body is one record or a list of 1 to 5,000 of them."""

    def _get_request_for_media_type(self, serializer, direction="request"):
        schema, _required = super()._get_request_for_media_type(serializer, direction)
        listed = {"type": "array", "items": schema, "minItems": 1, "maxItems": ingest.BATCH_LIMIT}
        return {"oneOf": [schema, listed]}, True


def _rows_of(data) -> tuple[list, bool]:
    """The posted records and whether they came as a list (a batch)."""
    if isinstance(data, dict):
        return [data], False
    if isinstance(data, list):
        if not data:
            message = _("The list is empty: send 1 to %(limit)d records.")
            error = ApiError("empty_batch", message % {"limit": ingest.BATCH_LIMIT})
            raise ApiErrors([error])
        if len(data) > ingest.BATCH_LIMIT:
            message = _("A batch holds at most %(limit)d records; this one has %(count)d.")
            values = {"limit": ingest.BATCH_LIMIT, "count": len(data)}
            raise ApiErrors([ApiError("batch_too_large", message % values)])
        return data, True
    raise ApiErrors([ApiError("invalid", _("Send one record (a JSON object) or a list of them."))])


_BATCH_RESPONSES = {
    201: OpenApiResponse(
        BatchResultSerializer,
        description="At least one record was written; `results` says, row by row, which were "
        "created and which were already there.",
    ),
    200: OpenApiResponse(
        BatchResultSerializer,
        description="Every record was already recorded with the same content; nothing changed.",
    ),
    **error_responses(400, 401, 403, 409, 413, 415, 429),
}


class _LedgerBatchView(CoopApiView):
    required_permission = "loans.add_ledgerentry"
    schema = BatchAutoSchema()
    post_batch = None

    def post(self, request, *args, **kwargs):
        rows, batch = _rows_of(request.data)
        try:
            result = type(self).post_batch(
                actor=request.user, coop=self.coop, rows=rows, ip_address=client_ip(request)
            )
        except ingest.RejectedError as rejected:
            raise _rejected(rejected, batch=batch) from None
        return Response(
            result.as_dict(),
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )


class InterestPayments(_LedgerBatchView):
    """Interest collected for settlement periods: one record or a list of up
    to 5,000, all-or-nothing, each recorded once by its txn_id."""

    post_batch = ingest.interest_payments_post

    @extend_schema(request=InterestPaymentSerializer, responses=_BATCH_RESPONSES)
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class Repayments(_LedgerBatchView):
    """Principal repaid: one record or a list of up to 5,000, all-or-nothing,
    each recorded once by its txn_id."""

    post_batch = ingest.repayments_post

    @extend_schema(request=RepaymentSerializer, responses=_BATCH_RESPONSES)
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class Reversals(CoopApiView):
    """Undo an interest or principal entry posted earlier by this co-op."""

    required_permission = "loans.add_ledgerentry"

    @extend_schema(
        request=ReversalCreateSerializer,
        responses={
            201: OpenApiResponse(ReversalSerializer, description="The reversal was recorded."),
            200: OpenApiResponse(
                ReversalSerializer,
                description="This reversal was already recorded with the same content.",
            ),
            **error_responses(400, 401, 403, 409, 413, 415, 429),
        },
    )
    def post(self, request, *args, **kwargs):
        fields = parsed_query(ReversalCreateSerializer, request.data)
        try:
            entry, created = ingest.reversal_post(actor=request.user, coop=self.coop, **fields)
        except ingest.RejectedError as rejected:
            raise _rejected(rejected) from None
        entry.outcome = ingest.CREATED if created else ingest.ALREADY_EXISTS
        return Response(
            ReversalSerializer(entry).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


# Anything else under /api/v1/ --------------------------------------------------


class EndpointNotFound(APIView):
    """A 404 in the error envelope for any path that names no endpoint."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []
    schema = None

    def initial(self, request, *args, **kwargs):
        raise exceptions.NotFound(_("There is no such API endpoint."))
