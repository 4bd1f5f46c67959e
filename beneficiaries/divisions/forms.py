from django import forms
from django.utils.translation import gettext_lazy as _

from divisions.models import Division


def next_free_code(parent: Division) -> str:
    """The parent's code followed by the next unused three-digit number."""
    taken = {
        int(code[len(parent.code) :])
        for code in Division.objects.filter(parent=parent).values_list("code", flat=True)
        if code[len(parent.code) :].isdigit()
    }
    number = next(n for n in range(1, 1000) if n not in taken)
    return f"{parent.code}{number:03d}"


class DivisionForm(forms.Form):
    """A new village or village group, or a new name for one."""

    name = forms.CharField(label=_("Name"), max_length=100)
    code = forms.CharField(
        label=_("Division code"),
        max_length=15,
        help_text=_("The parent's code followed by three digits."),
    )
