"""The co-op API's compensation claims (DOMAIN.md section 8):
POST and GET /api/v1/compensation-claims/, GET /api/v1/compensation-claims/<claim_id>/.

The same key authentication, permission class, throttle and error envelope
as every co-op endpoint (``loans.api``). The co-op files a claim for one of
its overdue loans exactly once by its own claim id: the system computes the
loss as of the claim date (``riskfund.services.claim_file``); posting the
same claim again changes nothing (200), the same claim id with another loan
or date is refused (409). The co-op reads back its own claims, in the
counties its key reaches, with their figures and where they stand.
"""

import datetime

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from loans.api.exceptions import ApiError, ApiErrors
from loans.api.ingest import coop_loans
from loans.api.serializers import AmountField, ErrorEnvelopeSerializer, IsoDateField, TextField
from loans.api.views import CoopApiView, SyncPagination, error_responses, parsed_query

from . import selectors
from .models import Claim, Fund
from .services import claim_file_for_contract

# The codes of a refused claim, for the schema (the messages say the figures).
_REFUSALS = {
    "unknown_contract": "no loan of this co-op, in the counties its key reaches, has this "
    "contract number",
    "not_covered": "no risk-compensation fund covers the loan's programme in its county",
    "loan_already_claimed": "the loan has a claim (under another claim id) that was not rejected",
    "loan_written_off": "the loan was written off",
    "claim_date_in_future": "the claim date is after today",
    "not_overdue_enough": "on the claim date the loan is overdue fewer days than the fund's "
    "claim days, or nothing of it is outstanding",
}


class CompensationClaimCreateSerializer(serializers.Serializer):
    claim_id = TextField(
        max_length=64,
        help_text="The co-op's own id for the claim, unique per co-op: the claim is filed "
        "once by it.",
    )
    contract_no = TextField(max_length=40, help_text="The contract number of the overdue loan.")
    claimed_on = IsoDateField(
        help_text="The claim date: the loss is computed as of this day (today or earlier)."
    )


class _Amount(AmountField):
    """Output only: yuan with 2 decimal places, as a string."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, **kwargs)


class CompensationClaimSerializer(serializers.Serializer):
    """A claim, its figures as computed when it was filed, and its state."""

    claim_id = serializers.CharField(help_text="The co-op's own id for the claim.")
    contract_no = serializers.CharField(source="loan.contract_no")
    township_code = serializers.CharField(source="township.code")
    fund = serializers.CharField(source="fund.name", help_text="The fund that compensates.")
    claimed_on = serializers.DateField(help_text="The claim date; the figures are as of it.")
    days_overdue = serializers.IntegerField(help_text="Days past maturity on the claim date.")
    loss_basis = serializers.ChoiceField(
        choices=Fund.LossBasis.choices,
        help_text="What the loss is: the outstanding principal (principal), or the principal "
        "and the contract interest unpaid to the claim date (principal_interest); never "
        "penalty interest.",
    )
    principal_outstanding = _Amount(
        source="principal_loss", help_text="Principal outstanding on the claim date."
    )
    unpaid_days = serializers.IntegerField(
        help_text="Days of contract interest unpaid to the claim date (0 when the loss is "
        "the principal alone)."
    )
    interest_unpaid = _Amount(
        source="interest_loss",
        help_text="Contract interest unpaid for those days (0.00 when the loss is the "
        "principal alone).",
    )
    loss = _Amount(help_text="principal_outstanding + interest_unpaid.")
    fund_share = serializers.DecimalField(
        max_digits=5, decimal_places=4, help_text="The fund's share of the loss (0.8000 = 80 %)."
    )
    compensation = _Amount(help_text="What the fund pays: loss × fund_share, half-up to the fen.")
    bank_share = _Amount(help_text="Borne by the bank: loss − compensation.")
    state = serializers.ChoiceField(
        choices=Claim.State.choices,
        help_text="filed → checked (by the county) → approved (by finance; waiting for funds "
        "if the fund's balance is short) → paid; or rejected (comment says why: the loan "
        "may then be claimed again under a new claim id).",
    )
    comment = serializers.CharField(help_text="The county's reason, when it rejected the claim.")
    filed_at = serializers.DateTimeField()
    paid_on = serializers.DateField(allow_null=True, help_text="When the fund paid; null until.")


class ClaimFilter(filters.FilterSet):
    state = filters.ChoiceFilter(choices=Claim.State.choices, help_text="Claims in this state.")
    claim_id = filters.CharFilter(max_length=64, help_text="The claim with this claim id.")

    class Meta:
        model = Claim
        fields = ["state", "claim_id"]


class ClaimPagination(SyncPagination):
    """Pages in the order claims were filed (a claim has no time of last
    change: its steps are in its history)."""

    ordering = ("id",)


def coop_claims(*, actor, coop):
    """The co-op's own claims, in the counties its key reaches."""
    return selectors.claims_for(actor).filter(coop=coop)


def _errors_of(error: ValidationError) -> list[ApiError]:
    """A service's ValidationError as envelope rows, with its codes."""
    if not hasattr(error, "error_dict"):
        return [ApiError(code=item.code or "invalid", message=item.message) for item in error]
    rows = []
    for name, items in error.error_dict.items():
        field = None if name == NON_FIELD_ERRORS else name
        for item in items:
            rows += [
                ApiError(code=item.code or "invalid", message=message, field=field)
                for message in item.messages
            ]
    return rows


def claim_post(
    *, actor, coop, claim_id: str, contract_no: str, claimed_on: datetime.date
) -> tuple[Claim, bool]:
    """File the claim once: (claim, True) when filed, (claim, False) when
    this co-op already filed it (same claim id, loan and date)."""
    try:
        return claim_file_for_contract(
            actor=actor,
            coop=coop,
            loans=coop_loans(actor=actor, coop=coop),
            claim_id=claim_id,
            contract_no=contract_no,
            claimed_on=claimed_on,
        )
    except ValidationError as error:  # a ClaimConflictError too: 409
        raise ApiErrors(_errors_of(error)) from None


class CompensationClaims(CoopApiView, generics.ListAPIView):
    """The co-op's compensation claims (GET), and a new claim (POST)."""

    required_permission = {"GET": "riskfund.view_claim", "POST": "riskfund.add_claim"}
    serializer_class = CompensationClaimSerializer
    filterset_class = ClaimFilter
    pagination_class = ClaimPagination

    def get_queryset(self):
        if self.is_fake():
            return Claim.objects.none()
        return coop_claims(actor=self.request.user, coop=self.coop)

    @extend_schema(
        description="The co-op's compensation claims, in the counties its key reaches, "
        "each with its figures and state; by state or claim id.",
        responses={
            200: CompensationClaimSerializer(many=True),
            **error_responses(400, 401, 403, 404, 429),
        },
    )
    def get(self, request, *args, **kwargs):
        return self.list(request, *args, **kwargs)

    @extend_schema(
        description="File a claim on the risk-compensation fund for a loan overdue at least "
        "the fund's claim days (90 by default). The system computes the loss as of the "
        "claim date from the ledger, and the compensation (loss × the fund's share, half-up "
        "to the fen) and the bank's part; the county then checks the claim and finance "
        "approves and pays it. A claim is filed once by its claim_id: the same claim posted "
        "again is answered 200 with the claim and changes nothing; the claim_id with another "
        "contract or date is refused (409, claim_id_conflict). Codes of a refused claim "
        "(400, with the field at fault): "
        + "; ".join(f"`{code}`: {text}" for code, text in _REFUSALS.items())
        + "; and `required`, `blank`, `null`, `invalid` or `max_length` for a field missing, "
        "empty, of the wrong JSON type, not a `YYYY-MM-DD` date or too long.",
        request=CompensationClaimCreateSerializer,
        responses={
            201: OpenApiResponse(CompensationClaimSerializer, description="The claim was filed."),
            200: OpenApiResponse(
                CompensationClaimSerializer,
                description="This claim id was already filed for the same contract and claim "
                "date; nothing changed.",
            ),
            **error_responses(400, 401, 403),
            409: OpenApiResponse(
                ErrorEnvelopeSerializer,
                description="The claim id is already used for another contract or claim date "
                "(claim_id_conflict). Nothing was written.",
            ),
            **error_responses(413, 415, 429),
        },
        examples=[
            OpenApiExample(
                "claim",
                value={
                    "claim_id": "PC-2026-0001",
                    "contract_no": "MJ-2025-0002",
                    "claimed_on": "2026-06-19",
                },
                request_only=True,
            )
        ],
    )
    def post(self, request, *args, **kwargs):
        fields = parsed_query(CompensationClaimCreateSerializer, request.data)
        claim, created = claim_post(actor=request.user, coop=self.coop, **fields)
        claim = self.get_queryset().get(pk=claim.pk)
        return Response(
            CompensationClaimSerializer(claim).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class CompensationClaimDetail(CoopApiView, generics.RetrieveAPIView):
    """One of the co-op's claims by its claim id."""

    required_permission = "riskfund.view_claim"
    serializer_class = CompensationClaimSerializer
    filter_backends = []

    def get_queryset(self):
        if self.is_fake():
            return Claim.objects.none()
        return coop_claims(actor=self.request.user, coop=self.coop)

    def get_object(self):
        claim_id = self.kwargs["claim_id"]
        if "\x00" in claim_id:
            # No claim id holds one (the API refuses it), and PostgreSQL
            # refuses to compare text with it.
            raise Http404
        return get_object_or_404(self.get_queryset(), claim_id=claim_id)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "claim_id",
                str,
                OpenApiParameter.PATH,
                description="The claim id the co-op posted.",
                examples=[OpenApiExample("claim", value="PC-2026-0001")],
            )
        ],
        responses={200: CompensationClaimSerializer, **error_responses(400, 401, 403, 404, 429)},
    )
    def get(self, request, *args, **kwargs):
        return self.retrieve(request, *args, **kwargs)
