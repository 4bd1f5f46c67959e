from django.db import migrations, models

# The tree now starts at the province: two levels above the county. The
# counties already loaded get their city and province in the next migration,
# the constraint that only a province stands alone in the one after (on
# PostgreSQL a table is not altered in the transaction that changed its rows).


class Migration(migrations.Migration):

    dependencies = [
        ('divisions', '0001_initial'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='division',
            name='division_only_county_has_no_parent',
        ),
        migrations.AlterField(
            model_name='division',
            name='level',
            field=models.CharField(choices=[('province', 'Province'), ('city', 'City'), ('county', 'County'), ('township', 'Township'), ('village', 'Village'), ('group', 'Village group')], max_length=10, verbose_name='level'),
        ),
        migrations.AlterField(
            model_name='historicaldivision',
            name='level',
            field=models.CharField(choices=[('province', 'Province'), ('city', 'City'), ('county', 'County'), ('township', 'Township'), ('village', 'Village'), ('group', 'Village group')], max_length=10, verbose_name='level'),
        ),
    ]
