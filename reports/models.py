"""Stored reports: a file generated in the background, what it was generated
from, and how far its generation has got.

One row per report the county can ask for (a kind, a format, and what it is
of: programme and date, or subsidy run; the whole county or one township),
and per consolidated report an office above the county asks for over its
counties (``Kind.CONSOLIDATED``: its ``office``, a city or province, in place
of the county it would otherwise carry; see ``reports.consolidated``).
Asking again regenerates it in place: the new file replaces the old one and
the row records the new request (who, when). The file itself states what it
was generated from, so a printed copy can be traced too.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from divisions.models import Division, county_field


class Report(models.Model):
    class Kind(models.TextChoices):
        COUNTY = "county", _("County programme report")
        PAYOUT = "payout", _("Subsidy payout list")
        RUN_NOTICE = "run_notice", _("Public notice of the subsidy")
        CONSOLIDATED = "consolidated", _("Consolidated report of the counties")

    class Format(models.TextChoices):
        PDF = "pdf", "PDF"
        XLSX = "xlsx", _("Spreadsheet (xlsx)")

    class State(models.TextChoices):
        QUEUED = "queued", _("Waiting")
        RUNNING = "running", _("Generating")
        DONE = "done", _("Ready")
        FAILED = "failed", _("Failed")

    key = models.CharField(_("key"), max_length=120, unique=True, editable=False)
    kind = models.CharField(_("report"), max_length=20, choices=Kind.choices)
    format = models.CharField(_("format"), max_length=5, choices=Format.choices)
    programme = models.ForeignKey(
        "loans.Programme",
        verbose_name=_("programme"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
    )
    run = models.ForeignKey(
        "subsidies.SubsidyRun",
        verbose_name=_("subsidy run"),
        on_delete=models.PROTECT,
        related_name="reports",
        null=True,
        blank=True,
    )
    as_of = models.DateField(_("as of"), null=True, blank=True)
    township = models.ForeignKey(
        "divisions.Division",
        verbose_name=_("township"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        help_text=_("Empty for the whole county."),
    )
    # A county's report carries its county, as every large record does; an
    # office's consolidated report spans several and carries the office's
    # city or province instead (never both: see the constraint).
    county = county_field(null=True, blank=True)
    office = models.ForeignKey(
        Division,
        verbose_name=_("office"),
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        editable=False,
        limit_choices_to={"level__in": (Division.Level.CITY, Division.Level.PROVINCE)},
    )
    state = models.CharField(_("state"), max_length=10, choices=State.choices)
    generation = models.PositiveIntegerField(_("generation"), default=0, editable=False)
    progress = models.PositiveSmallIntegerField(_("progress (%)"), default=0)
    stage = models.CharField(_("stage"), max_length=100, blank=True)
    error = models.TextField(_("error"), blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    requested_at = models.DateTimeField(_("requested"))
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    file = models.FileField(_("file"), upload_to="reports/%Y/%m/", blank=True)
    file_size = models.PositiveIntegerField(_("size (bytes)"), null=True, blank=True)
    row_count = models.PositiveIntegerField(_("rows"), null=True, blank=True)
    # What the figures in the file came from: the run's computation when it
    # was generated (a recomputed run makes its reports stale).
    run_generation = models.PositiveIntegerField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("report")
        verbose_name_plural = _("reports")
        ordering = ["-requested_at"]
        permissions = [
            ("request_report", _("Can ask for reports")),
            ("view_league", _("Can compare the counties under an office")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress__lte=100), name="report_progress_at_most_100"
            ),
            models.CheckConstraint(
                condition=(
                    models.Q(kind="consolidated", county__isnull=True, office__isnull=False)
                    | (
                        ~models.Q(kind="consolidated")
                        & models.Q(county__isnull=False, office__isnull=True)
                    )
                ),
                name="report_of_a_county_or_an_office",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_format_display()})"

    @property
    def in_progress(self) -> bool:
        return self.state in (self.State.QUEUED, self.State.RUNNING)
