from django import forms

from accounts.scoping import divisions_for
from beneficiaries.industries.selectors import industry_kinds
from beneficiaries.models import Enterprise, Industry
from divisions.models import Division


class EnterpriseForm(forms.ModelForm):
    """An enterprise or co-operative; the village list is confined to the
    townships the user may act in."""

    class Meta:
        model = Enterprise
        fields = [
            "name",
            "kind",
            "credit_code",
            "legal_representative",
            "phone",
            "village",
            "industry",
            "scale",
            "scale_unit",
            "account_holder",
            "account_number",
            "bank_name",
        ]

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["village"].queryset = (
            divisions_for(user)
            .filter(level=Division.Level.VILLAGE)
            .select_related("parent")
            .order_by("code")
        )
        self.fields["village"].label_from_instance = lambda v: f"{v.parent.name} · {v.name}"
        self.fields["industry"].queryset = industry_kinds()
        self.fields["industry"].label_from_instance = Industry.__str__

    def service_fields(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}
