from django import forms
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from .transfer import MAX_UPLOAD_BYTES

# Every .xlsx is a zip archive; an .xls renamed to .xlsx is not.
ZIP_SIGNATURE = b"PK\x03\x04"


class WorkbookUploadForm(forms.Form):
    workbook = forms.FileField(
        label=_("Workbook (.xlsx)"),
        widget=forms.ClearableFileInput(
            attrs={
                "accept": ".xlsx,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
        ),
    )

    def clean_workbook(self):
        upload = self.cleaned_data["workbook"]
        if not upload.name.lower().endswith(".xlsx"):
            raise ValidationError(
                _(
                    "%(name)s is not an .xlsx workbook. Upload an Excel workbook (.xlsx); "
                    "an old .xls or .csv file can be saved as .xlsx from Excel or WPS."
                ),
                params={"name": upload.name},
                code="file_type",
            )
        if upload.size > MAX_UPLOAD_BYTES:
            raise ValidationError(
                _(
                    "The file is %(size)s; the limit is %(limit)s. "
                    "Split the rows into several workbooks."
                ),
                params={
                    "size": filesizeformat(upload.size),
                    "limit": filesizeformat(MAX_UPLOAD_BYTES),
                },
                code="file_size",
            )
        head = upload.read(len(ZIP_SIGNATURE))
        upload.seek(0)
        if head != ZIP_SIGNATURE:
            raise ValidationError(
                _(
                    "This file is not a real .xlsx workbook, though its name ends in .xlsx. "
                    "Open it in Excel or WPS and save it as .xlsx."
                ),
                code="file_type",
            )
        return upload
