"""What the industry page reads: the two-level tree with, for each kind,
how many borrowers use it among those the user may see."""

from dataclasses import dataclass

from django.db.models import Count

from beneficiaries.models import Borrower, Industry


@dataclass(frozen=True)
class KindNode:
    kind: Industry
    borrower_count: int


@dataclass(frozen=True)
class SectorNode:
    sector: Industry
    kinds: list[KindNode]

    @property
    def borrower_count(self) -> int:
        return sum(node.borrower_count for node in self.kinds)


def industry_tree(*, user) -> list[SectorNode]:
    """Sectors in their order, each with its kinds in theirs. Borrowers are
    counted within the user's reach (a township officer's own township)."""
    counts = dict(
        Borrower.objects.for_user(user)
        .values_list("industry_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    industries = list(Industry.objects.order_by("sort_order", "name", "pk"))
    return [
        SectorNode(
            sector=sector,
            kinds=[
                KindNode(kind=kind, borrower_count=counts.get(kind.pk, 0))
                for kind in industries
                if kind.parent_id == sector.pk
            ],
        )
        for sector in industries
        if sector.parent_id is None
    ]


def industry_kinds():
    """Kinds of industry (not sectors), sector first, for choice lists."""
    return (
        Industry.objects.filter(parent__isnull=False)
        .select_related("parent")
        .order_by("parent__sort_order", "sort_order", "pk")
    )
