from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("divisions", "0003_attach_counties"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name='division',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('level', 'province'), ('parent__isnull', True)), models.Q(models.Q(('level', 'province'), _negated=True), ('parent__isnull', False)), _connector='OR'), name='division_only_province_has_no_parent'),
        ),
    ]
