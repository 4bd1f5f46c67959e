"""A co-op serves one or more counties and each key reaches some of them
(DOMAIN.md section 7). The single county code of each co-op becomes its
first county served, and every existing key reaches the counties of its
co-op, so a single-county installation keeps working unchanged. A code
whose county is not loaded yet links nothing: the co-op then serves no
county until the county office or ``load_divisions`` adds it."""

from django.db import migrations, models


def serve_the_county(apps, schema_editor):
    CreditCoop = apps.get_model("loans", "CreditCoop")
    ApiKey = apps.get_model("loans", "ApiKey")
    Division = apps.get_model("divisions", "Division")
    for coop in CreditCoop.objects.all():
        county = Division.objects.filter(code=coop.county_code, level="county").first()
        if county is not None:
            coop.counties.add(county)
    for api_key in ApiKey.objects.select_related("coop"):
        api_key.counties.set(api_key.coop.counties.all())


def one_county_again(apps, schema_editor):
    CreditCoop = apps.get_model("loans", "CreditCoop")
    for coop in CreditCoop.objects.all():
        first = coop.counties.order_by("code").first()
        coop.county_code = first.code if first is not None else ""
        coop.save(update_fields=["county_code"])


class Migration(migrations.Migration):
    dependencies = [
        ("divisions", "0004_only_province_has_no_parent"),
        ("loans", "0007_county_required"),
    ]

    operations = [
        migrations.AddField(
            model_name="apikey",
            name="counties",
            field=models.ManyToManyField(
                limit_choices_to={"level": "county"},
                related_name="+",
                to="divisions.division",
                verbose_name="counties reached",
            ),
        ),
        migrations.AddField(
            model_name="creditcoop",
            name="counties",
            field=models.ManyToManyField(
                blank=True,
                limit_choices_to={"level": "county"},
                related_name="+",
                to="divisions.division",
                verbose_name="counties served",
            ),
        ),
        # A default first, so that going back can add the column to rows
        # that exist by then.
        migrations.AlterField(
            model_name="creditcoop",
            name="county_code",
            field=models.CharField(
                blank=True, default="", max_length=6, verbose_name="county code"
            ),
        ),
        migrations.RunPython(serve_the_county, one_county_again),
        migrations.RemoveField(model_name="creditcoop", name="county_code"),
    ]
