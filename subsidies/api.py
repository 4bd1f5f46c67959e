"""The co-op API's subsidy lines: GET /api/v1/subsidy-lines/.

The same key authentication, permission class, throttle and error envelope
as every co-op endpoint (``loans.api``); the co-op sees the lines of
approved (or paid) runs for its own loans, and nothing of a run still being
computed, checked or approved.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers

from loans.api.ingest import coop_loans
from loans.api.serializers import AmountField
from loans.api.views import CoopApiView, SyncPagination, error_responses, parsed_query

from .models import SubsidyLine, SubsidyRun


class SubsidyLineQuerySerializer(serializers.Serializer):
    year = serializers.IntegerField(
        required=False, min_value=2000, max_value=2100, help_text="Subsidy year, e.g. 2025."
    )
    programme = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=2147483647,
        help_text="Programme id (as on the co-op's applications).",
    )


class _Amount(AmountField):
    """Output only: yuan with 2 decimal places, as a string."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, **kwargs)


class SubsidyLineSerializer(serializers.Serializer):
    id = serializers.IntegerField(
        help_text="The line's id; a bank payment's 摘要 ends with it (batch reference-id)."
    )
    contract_no = serializers.CharField(source="loan.contract_no")
    year = serializers.IntegerField(source="run.year", help_text="The subsidy year.")
    programme = serializers.IntegerField(source="run.programme_id", help_text="Programme id.")
    reported_interest = _Amount(help_text="Interest the co-op reported for the year's days.")
    expected_interest = _Amount(help_text="Interest the contract gives for those days.")
    eligible_interest = _Amount(help_text="The part of it the programme subsidises.")
    subsidy = _Amount(help_text="The subsidy for the year.")
    adjustment = _Amount(help_text="Carried from earlier years whose ledger changed later.")
    amount_due = _Amount(help_text="subsidy + adjustment: what is paid to the borrower.")
    payment_status = serializers.ChoiceField(source="payment", choices=SubsidyLine.Payment.choices)
    paid_on = serializers.DateField(allow_null=True)
    voucher_no = serializers.CharField(help_text="The bank voucher of the payment, once paid.")


class LinePagination(SyncPagination):
    """Pages in the order lines were written: the lines of an approved run
    are never replaced, only their payment changes."""

    ordering = ("id",)


class SubsidyLines(CoopApiView, generics.ListAPIView):
    """The lines of approved subsidy runs for the co-op's loans."""

    required_permission = "subsidies.view_subsidyline"
    serializer_class = SubsidyLineSerializer
    pagination_class = LinePagination
    filter_backends = []

    def get_queryset(self):
        if self.is_fake():
            return SubsidyLine.objects.none()
        query = parsed_query(SubsidyLineQuerySerializer, self.request.query_params)
        lines = SubsidyLine.objects.filter(
            loan__in=coop_loans(actor=self.request.user, coop=self.coop),
            run__state__in=SubsidyRun.FROZEN_STATES,
        ).select_related("loan", "run")
        if "year" in query:
            lines = lines.filter(run__year=query["year"])
        if "programme" in query:
            lines = lines.filter(run__programme_id=query["programme"])
        return lines

    @extend_schema(
        description="The lines of approved subsidy runs for this co-op's loans: contract, "
        "subsidy year, programme, the interest reported, expected and eligible, the "
        "subsidy, adjustments carried from earlier years, the amount due and its payment "
        "(status, date and voucher). A line appears once the finance bureau has approved the "
        "year's subsidy run; nothing of a run still being computed or checked is served.",
        parameters=[SubsidyLineQuerySerializer],
        responses={
            200: SubsidyLineSerializer(many=True),
            **error_responses(400, 401, 403, 404, 429),
        },
    )
    def get(self, request, *args, **kwargs):
        return self.list(request, *args, **kwargs)
