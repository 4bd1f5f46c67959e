from decimal import Decimal as D

from django.db import migrations

# The programmes of the seed articles, as configurations (DOMAIN.md section 2).
PROGRAMMES = [
    {
        "name": "振兴贷",
        "region_code": "530822",
        "region_name": "云南省普洱市墨江哈尼族自治县",
        "description": (
            "乡村产业发展致富带头人“振兴贷”：县委组织部、县农村信用社协同实施，"
            "县财政全额贴息，先收后补、一年一补。"
        ),
        "is_active": True,
        "min_term_months": 6,
        "max_term_months": 36,
        "rate_ceiling": D("0.043500"),
        "budget": D("45000000.00"),
        "rate_cap_mode": "contract",
        "quotas": {
            "village_committee": D("100000.00"),
            "group_cadre": D("50000.00"),
            "industry_leader": D("50000.00"),
            "reserve_cadre": D("50000.00"),
        },
    },
    {
        "name": "精扶贷",
        "region_code": "520600",
        "region_name": "贵州省铜仁市",
        "description": "“民心党建+信合+”精准扶贫贷款：建档立卡贫困户，县级风险补偿金。",
        "is_active": False,
        "min_term_months": 6,
        "max_term_months": 36,
        "rate_ceiling": D("0.043500"),
        "budget": D("1500000000.00"),
        "rate_cap_mode": "lpr",
        "quotas": {"poor_household": D("50000.00")},
    },
    {
        "name": "扶贫贷",
        "region_code": "211382",
        "region_name": "辽宁省朝阳市凌源市",
        "description": "贫困户每户2万至3万元；带动贫困户的企业和大户最高500万元；期限3年。",
        "is_active": False,
        "min_term_months": 6,
        "max_term_months": 36,
        "rate_ceiling": D("0.043500"),
        "budget": D("100000000.00"),
        "rate_cap_mode": "contract",
        "enterprise_quota": D("5000000.00"),
        "quotas": {"poor_household": D("30000.00")},
    },
]

# One-year loan prime rates published by the National Interbank Funding Center.
LPR = [
    ("2022-08-22", D("0.036500")),
    ("2023-06-20", D("0.035500")),
    ("2023-08-21", D("0.034500")),
    ("2024-07-22", D("0.033500")),
    ("2024-10-21", D("0.031000")),
    ("2025-05-20", D("0.030000")),
]


def ship(apps, schema_editor):
    Programme = apps.get_model("loans", "Programme")
    ProgrammeQuota = apps.get_model("loans", "ProgrammeQuota")
    LprRate = apps.get_model("loans", "LprRate")
    CreditCoop = apps.get_model("loans", "CreditCoop")
    for year in (2024, 2025, 2026):
        for data in PROGRAMMES:
            data = dict(data)
            quotas = data.pop("quotas")
            programme, created = Programme.objects.get_or_create(
                name=data.pop("name"),
                year=year,
                region_code=data.pop("region_code"),
                defaults=data,
            )
            if created:
                for category, amount in quotas.items():
                    ProgrammeQuota.objects.create(
                        programme=programme, category=category, amount=amount
                    )
    for effective_on, rate in LPR:
        LprRate.objects.get_or_create(effective_on=effective_on, defaults={"one_year_rate": rate})
    CreditCoop.objects.get_or_create(
        code="mojiang-rcc",
        defaults={"name": "墨江哈尼族自治县农村信用合作联社", "county_code": "530822"},
    )


class Migration(migrations.Migration):
    dependencies = [("loans", "0001_initial")]

    operations = [migrations.RunPython(ship, migrations.RunPython.noop)]
