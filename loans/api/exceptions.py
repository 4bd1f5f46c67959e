"""The API's one error shape, for every error it answers:

    {"errors": [{"index": 3, "field": "amount", "code": "amount_not_positive",
                 "message": "..."}]}

``index`` appears only for a row of a posted list (a batch); ``field`` is
null when the error is not about one field (a bad key, a throttled client).
``code`` is stable and meant for programs; ``message`` is for people, in the
request's language (Chinese unless the client sends ``Accept-Language: en``).
"""

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)

# Codes that say "this contradicts what is already stored": the request as a
# whole answers 409 when any row carries one.
CONFLICT_CODES = frozenset(
    {
        "txn_id_conflict",
        "contract_conflict",
        "application_already_lent",
        "already_reversed",
        "claim_id_conflict",
    }
)


@dataclass(frozen=True)
class ApiError:
    code: str
    message: str
    field: str | None = None
    index: int | None = None

    def as_dict(self, *, with_index: bool) -> dict:
        data = {"field": self.field, "code": self.code, "message": str(self.message)}
        if with_index:
            data = {"index": self.index, **data}
        return data


class ApiErrors(exceptions.APIException):
    """Errors already worded and coded by the API (a rejected batch, a
    conflicting re-post). ``batch`` says whether rows carry their index:
    a single object posted to a batch endpoint gets its errors without one."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"

    def __init__(self, errors: Iterable[ApiError], *, batch: bool = False):
        self.errors = list(errors)
        self.batch = batch
        if any(error.code in CONFLICT_CODES for error in self.errors):
            self.status_code = status.HTTP_409_CONFLICT
        super().__init__(detail=[error.message for error in self.errors])


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("The request body is too large: send smaller batches.")
    default_code = "request_too_large"


class DatabaseUnavailable(exceptions.APIException):
    """The connection to the database failed in the middle of the request
    (a restart, a network cut). Every write of the API runs in one
    transaction, so the request's records are all stored or none; and a
    record sent again is answered "already_exists", so sending the same
    request again is always safe."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = _(
        "The database connection failed while this request was processed, so it was not "
        "completed. Send the same request again in a moment: records already stored are "
        "reported as already_exists."
    )
    default_code = "database_unavailable"
    retry_after = 5


def errors_of_detail(
    detail, *, field: str | None = None, index: int | None = None
) -> Iterator[ApiError]:
    """Flatten DRF's nested error detail (dicts of lists of ErrorDetail) into
    envelope rows; nested fields are joined with a dot."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key in (api_settings.NON_FIELD_ERRORS_KEY, "__all__"):
                name = field
            else:
                name = f"{field}.{key}" if field else str(key)
            yield from errors_of_detail(value, field=name, index=index)
    elif isinstance(detail, list):
        for item in detail:
            yield from errors_of_detail(item, field=field, index=index)
    else:
        code = getattr(detail, "code", None) or "invalid"
        yield ApiError(field=field, code=code, message=str(detail), index=index)


def envelope(errors: Iterable[ApiError], *, batch: bool = False) -> dict:
    return {"errors": [error.as_dict(with_index=batch) for error in errors]}


def api_exception_handler(exc, context):
    """DRF's handler (status, WWW-Authenticate and Retry-After headers), with
    the body replaced by the envelope."""
    if isinstance(exc, RequestDataTooBig):
        exc = RequestTooLarge()
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, OperationalError | InterfaceError):
        logger.error("The database failed during an API request", exc_info=exc)
        exc = DatabaseUnavailable()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, DatabaseUnavailable):
        response["Retry-After"] = str(exc.retry_after)
    batch = False
    if isinstance(exc, ApiErrors):
        errors, batch = exc.errors, exc.batch
        response.status_code = exc.status_code
    elif isinstance(exc, exceptions.ValidationError):
        errors = list(errors_of_detail(exc.detail))
    else:
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
        errors = [ApiError(code=code, message=str(exc.detail))]
    response.data = envelope(errors, batch=batch)
    return response
