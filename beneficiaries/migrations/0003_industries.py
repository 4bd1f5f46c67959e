from django.db import migrations

# The industries the Mojiang programme names (seed 000), as a two-level tree.
# ``farming`` sorts each kind into husbandry or planting for the reports.
INDUSTRIES = [
    ("养殖业", [("生猪", "husbandry"), ("肉牛", "husbandry"), ("山羊", "husbandry"),
             ("家禽", "husbandry"), ("中蜂", "husbandry")]),
    ("种植业", [("紫米", "planting"), ("茶叶", "planting"), ("核桃", "planting"),
             ("生物药材", "planting"), ("咖啡", "planting"), ("蔬菜", "planting")]),
    ("林下种养殖", [("林下养鸡", "husbandry"), ("林下中药材", "planting"),
               ("林下食用菌", "planting")]),
    ("文化旅游", [("茶旅融合", "planting"), ("乡村民宿", "other")]),
]  # fmt: skip


def create_industries(apps, schema_editor):
    Industry = apps.get_model("beneficiaries", "Industry")  # noqa: N806
    for sector_order, (sector_name, kinds) in enumerate(INDUSTRIES, start=1):
        sector, _ = Industry.objects.get_or_create(
            name=sector_name, parent=None, defaults={"sort_order": sector_order}
        )
        for kind_order, (kind_name, farming) in enumerate(kinds, start=1):
            Industry.objects.get_or_create(
                name=kind_name,
                parent=sector,
                defaults={"farming": farming, "sort_order": kind_order},
            )


class Migration(migrations.Migration):
    dependencies = [("beneficiaries", "0002_registry")]

    operations = [migrations.RunPython(create_industries, migrations.RunPython.noop)]
