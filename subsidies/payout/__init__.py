"""Paying an approved run: payment batches, the bank's file, payments and
failures recorded per batch or line."""
