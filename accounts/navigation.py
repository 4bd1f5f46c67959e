"""What each role can do, declared once: the home page lists it and the menu
links the parts that are built.

An action with no ``url_name`` is a part of the product that is not built
yet; the home page says so rather than linking to an empty page.
"""

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.history.selectors import HISTORY_ROLES

from .roles import OFFICE_ROLES, Role, role_of

# The menu's groups, in their order: each action belongs to one.
BORROWERS, LOANS, SUBSIDY = "borrowers", "loans", "subsidy"
REPORTS, SETTINGS = "reports", "settings"
GROUPS: tuple[tuple[str, Promise], ...] = (
    (BORROWERS, pgettext_lazy("menu", "Borrowers")),
    (LOANS, pgettext_lazy("menu", "Loans")),
    (SUBSIDY, pgettext_lazy("menu", "Subsidy")),
    (REPORTS, pgettext_lazy("menu", "Reports")),
    (SETTINGS, pgettext_lazy("menu", "Settings")),
)


@dataclass(frozen=True)
class Action:
    title: Promise
    description: Promise
    roles: frozenset[Role]
    url_name: str | None = None
    group: str = SETTINGS


ALL_ROLES = frozenset(Role)

ACTIONS: tuple[Action, ...] = (
    Action(
        title=_("Divisions"),
        description=_("The county's townships, villages and village groups with official codes."),
        roles=ALL_ROLES,
        url_name="divisions:list",
        group=SETTINGS,
    ),
    Action(
        title=_("Borrower registry"),
        description=_(
            "Register households and borrowers, their positions, industries and driven "
            "households; import and export workbooks."
        ),
        roles=frozenset({Role.COUNTY, Role.TOWNSHIP, Role.FINANCE, Role.AUDITOR}),
        url_name="borrowers:list",
        group=BORROWERS,
    ),
    Action(
        title=_("Enterprises and co-operatives"),
        description=_(
            "Leading companies, co-operatives and family farms: as borrowers, as the entity "
            "behind a borrower, and the households they lead."
        ),
        roles=frozenset({Role.COUNTY, Role.TOWNSHIP, Role.AUDITOR}),
        url_name="enterprises:list",
        group=BORROWERS,
    ),
    Action(
        title=_("Programmes"),
        description=_(
            "Configure each programme's quotas, terms, rate ceiling, budget and subsidy rule; "
            "the loan prime rate table."
        ),
        roles=frozenset(
            {Role.COUNTY, Role.TOWNSHIP, Role.COOP, Role.FINANCE, Role.AUDITOR, *OFFICE_ROLES}
        ),
        url_name="programmes:list",
        group=SETTINGS,
    ),
    Action(
        title=_("Industries"),
        description=_("The industry categories: sectors and the kinds under them."),
        roles=frozenset({Role.COUNTY, Role.TOWNSHIP, Role.FINANCE, Role.AUDITOR}),
        url_name="industries:list",
        group=SETTINGS,
    ),
    Action(
        title=_("Applications"),
        description=_(
            "Take applications from submission through village recommendation, township "
            "review, county approval and public notice to release to the co-op."
        ),
        roles=frozenset({Role.COUNTY, Role.TOWNSHIP, Role.COOP, Role.FINANCE, Role.AUDITOR}),
        url_name="applications:list",
        group=LOANS,
    ),
    Action(
        title=_("Public notices"),
        description=_(
            "Approved applications posted in the villages for the notice period; objections; "
            "release to the co-op."
        ),
        roles=frozenset({Role.COUNTY, Role.TOWNSHIP, Role.FINANCE, Role.AUDITOR}),
        url_name="notices:list",
        group=LOANS,
    ),
    Action(
        title=_("Loans and ledgers"),
        description=_(
            "Contracts, interest settlements and principal repayments posted by the co-op; "
            "balances and overdue loans."
        ),
        roles=frozenset({Role.COUNTY, Role.TOWNSHIP, Role.COOP, Role.FINANCE, Role.AUDITOR}),
        url_name="loans:list",
        group=LOANS,
    ),
    Action(
        title=_("Co-op API"),
        description=_(
            "Read released applications and post contracts, interest and repayments with "
            "a service key."
        ),
        roles=frozenset({Role.COOP, Role.COUNTY}),
        url_name="api:docs",
        group=SETTINGS,
    ),
    Action(
        title=_("API keys"),
        description=_("Issue and revoke the co-op service accounts' API keys."),
        roles=frozenset({Role.COUNTY}),
        url_name="coop_keys:list",
        group=SETTINGS,
    ),
    Action(
        title=_("Yearly subsidy runs"),
        description=_(
            "Compute each year's interest subsidy, reconcile it with the co-op's figures, "
            "submit it and approve it (four eyes)."
        ),
        roles=frozenset({Role.COUNTY, Role.TOWNSHIP, Role.FINANCE, Role.AUDITOR}),
        url_name="subsidies:runs",
        group=SUBSIDY,
    ),
    Action(
        title=_("Payouts"),
        description=_(
            "Download the payout list for the bank's batch payment and record the voucher."
        ),
        roles=frozenset({Role.FINANCE, Role.AUDITOR}),
        url_name="subsidies:runs",
        group=SUBSIDY,
    ),
    Action(
        title=_("Risk-compensation fund"),
        description=_(
            "The fund's balance, leverage and non-performing rate; deposits; the co-op's "
            "compensation claims, checked by the county and approved by finance."
        ),
        roles=frozenset(
            {Role.COUNTY, Role.FINANCE, Role.AUDITOR, Role.COOP, Role.CITY, Role.PROVINCE}
        ),
        url_name="riskfund:list",
        group=LOANS,
    ),
    Action(
        title=_("Compensation claims"),
        description=_("Claims on the fund for loans overdue at least the claim days."),
        roles=frozenset({Role.TOWNSHIP}),
        url_name="riskfund:claims",
        group=LOANS,
    ),
    Action(
        title=_("Reports"),
        description=_("Programme reports, payout lists and public notices as PDF and spreadsheet."),
        roles=frozenset({Role.COUNTY, Role.TOWNSHIP, Role.FINANCE, Role.AUDITOR}),
        url_name="reports:list",
        group=REPORTS,
    ),
    Action(
        title=_("Counties side by side"),
        description=_(
            "Every county under the office in one table (loans, balance, overdue, interest, "
            "subsidy, driven households), sortable and exportable; each county's dashboard."
        ),
        roles=frozenset(OFFICE_ROLES),
        url_name="reports:league",
        group=REPORTS,
    ),
    Action(
        title=_("Change history"),
        description=_("Who changed what, when and from where, for every record."),
        roles=HISTORY_ROLES,
        url_name="history:list",
        group=REPORTS,
    ),
)


def actions_for(user) -> list[Action]:
    role = role_of(user)
    return [action for action in ACTIONS if role in action.roles]


@dataclass(frozen=True)
class MenuGroup:
    key: str
    title: Promise
    actions: tuple[Action, ...]


def menu_for(user) -> list[MenuGroup]:
    """The role's built actions by group, groups without one left out, and
    an action linked twice (the finance bureau's runs and payouts) once."""
    seen = set()
    by_group: dict[str, list[Action]] = {key: [] for key, _title in GROUPS}
    for action in actions_for(user):
        if action.url_name and action.url_name not in seen:
            seen.add(action.url_name)
            by_group[action.group].append(action)
    return [MenuGroup(key, title, tuple(by_group[key])) for key, title in GROUPS if by_group[key]]
