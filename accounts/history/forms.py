from django import forms
from django.contrib.auth import get_user_model
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from .selectors import HistoryFilter, audited_models


class _UserChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        full_name = obj.get_full_name()
        return "%s (%s)" % (full_name, obj.username) if full_name else obj.username


class HistorySearchForm(forms.Form):
    """The auditor's search of the change history (every field optional)."""

    person = forms.CharField(
        label=_("Borrower or household head"),
        required=False,
        max_length=60,
        help_text=_("Name, resident ID number or mobile number."),
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    model = forms.ChoiceField(label=_("Kind of record"), required=False)
    record = forms.IntegerField(label=_("Record number"), required=False, min_value=1)
    user = _UserChoice(
        label=_("Changed by"),
        required=False,
        empty_label=_("Anyone"),
        queryset=get_user_model().objects.order_by("username"),
    )
    date_from = forms.DateField(
        label=_("First day"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("Last day"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        groups = {}
        for label, model in audited_models().items():
            app = str(model._meta.app_config.verbose_name)
            groups.setdefault(app, []).append((label, capfirst(model._meta.verbose_name)))
        self.fields["model"].choices = [("", _("Any")), *groups.items()]

    def clean(self):
        data = super().clean()
        if data.get("record") and not data.get("model"):
            self.add_error("model", _("Choose the kind of record the number belongs to."))
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", _("The last day is before the first."))
        return data

    def search(self) -> HistoryFilter:
        """The search; call after ``is_valid()``."""
        data = self.cleaned_data
        return HistoryFilter(
            person=data.get("person") or "",
            model=data.get("model") or "",
            record=data.get("record"),
            user_id=data["user"].pk if data.get("user") else None,
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
        )
