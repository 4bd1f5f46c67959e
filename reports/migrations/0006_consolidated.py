# An office's consolidated report over its counties: a report of an office
# (a city or province) carries the office in place of a county.

import django.db.models.deletion
from django.db import migrations, models


def forget_office_reports(apps, schema_editor):
    """Backwards: the office reports cannot be kept once every report must
    carry a county again. Their rows go; their files stay in the media
    directory."""
    Report = apps.get_model("reports", "Report")
    Report.objects.filter(county__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("divisions", "0004_only_province_has_no_parent"),
        ("reports", "0005_office"),
    ]

    operations = [
        migrations.AddField(
            model_name="report",
            name="office",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                limit_choices_to={"level__in": ("city", "province")},
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="divisions.division",
                verbose_name="office",
            ),
        ),
        migrations.AlterField(
            model_name="report",
            name="county",
            field=models.ForeignKey(
                blank=True,
                editable=False,
                limit_choices_to={"level": "county"},
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="divisions.division",
                verbose_name="county",
            ),
        ),
        # Runs backwards only, before the county is required again.
        migrations.RunPython(migrations.RunPython.noop, forget_office_reports),
        migrations.AlterField(
            model_name="report",
            name="kind",
            field=models.CharField(
                choices=[
                    ("county", "County programme report"),
                    ("payout", "Subsidy payout list"),
                    ("run_notice", "Public notice of the subsidy"),
                    ("consolidated", "Consolidated report of the counties"),
                ],
                max_length=20,
                verbose_name="report",
            ),
        ),
        migrations.AddConstraint(
            model_name="report",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("county__isnull", True),
                        ("kind", "consolidated"),
                        ("office__isnull", False),
                    ),
                    models.Q(
                        models.Q(("kind", "consolidated"), _negated=True),
                        ("county__isnull", False),
                        ("office__isnull", True),
                    ),
                    _connector="OR",
                ),
                name="report_of_a_county_or_an_office",
            ),
        ),
    ]
