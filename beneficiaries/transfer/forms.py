from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from .services import MAX_UPLOAD_BYTES

# Every .xlsx is a zip archive; an .xls renamed to .xlsx is not.
ZIP_SIGNATURE = b"PK\x03\x04"
# The form's other fields and the multipart framing, over the file itself.
FORM_OVERHEAD_BYTES = 64 * 1024


def _too_big(size: int) -> ValidationError:
    return ValidationError(
        _("The file is %(size)s; the limit is %(limit)s. Split the rows into several workbooks."),
        params={"size": filesizeformat(size), "limit": filesizeformat(MAX_UPLOAD_BYTES)},
        code="file_size",
    )


class UploadLimitHandler(FileUploadHandler):
    """The import page's first upload handler: stops an upload over the
    limit before any of it is stored in memory or in a temporary file (the
    rest of the body is read and dropped); ``refused_size`` then says how
    big it was, for the form's message."""

    def __init__(self, request=None):
        super().__init__(request)
        self.request_size = 0
        self.refused_size = None

    def handle_raw_input(self, input_data, meta, content_length, boundary, encoding=None):
        self.request_size = content_length

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        if self.request_size > MAX_UPLOAD_BYTES + FORM_OVERHEAD_BYTES:
            self.refused_size = self.request_size
            raise StopUpload(connection_reset=False)

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > MAX_UPLOAD_BYTES:
            self.refused_size = max(self.request_size, start + len(raw_data))
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size):
        return None


class WorkbookUploadForm(forms.Form):
    workbook = forms.FileField(
        label=_("Workbook (.xlsx)"),
        widget=forms.ClearableFileInput(
            attrs={
                "accept": ".xlsx,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
        ),
    )

    def __init__(self, *args, refused_size: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.refused_size = refused_size
        if refused_size:
            # The upload was stopped at the limit: say so, not "required".
            self.fields["workbook"].required = False

    def clean_workbook(self):
        if self.refused_size:
            raise _too_big(self.refused_size)
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
            raise _too_big(upload.size)
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
