"""Masking filters for templates: ``{{ borrower.id_number|mask_id }}``."""

from django import template

from common.masking import mask_account, mask_phone, mask_resident_id

register = template.Library()

register.filter("mask_id", mask_resident_id)
register.filter("mask_phone", mask_phone)
register.filter("mask_account", mask_account)
