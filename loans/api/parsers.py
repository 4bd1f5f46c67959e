"""The API's JSON parser: DRF's, with every body it cannot take (not JSON,
not UTF-8, NaN or Infinity, a number too long, nesting too deep) answered as
one ``parse_error`` in the request's language.

DRF's own parser lets Python's ``RecursionError`` through (a body of a
thousand ``[`` is enough), which became a 500 with an HTML page.
"""

import codecs
import json

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils import json as drf_json


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        parse_constant = drf_json.strict_constant if self.strict else None
        try:
            text = codecs.getreader(encoding)(stream).read()
            return json.loads(text, parse_constant=parse_constant)
        except RecursionError:
            raise ParseError(
                _("The request body is not valid JSON: it is nested too deeply.")
            ) from None
        except json.JSONDecodeError as error:
            raise ParseError(
                _(
                    "The request body is not valid JSON: %(reason)s at line %(line)d, "
                    "column %(column)d."
                )
                % {"reason": error.msg, "line": error.lineno, "column": error.colno}
            ) from None
        except UnicodeDecodeError:
            raise ParseError(
                _("The request body is not valid JSON: it is not encoded in UTF-8.")
            ) from None
        except ValueError as error:
            # NaN or Infinity, or a number of more digits than Python converts.
            raise ParseError(
                _("The request body is not valid JSON: %(reason)s") % {"reason": error}
            ) from None
