"""Programmes as data: quotas per category, terms, rate ceiling, budget and
subsidy parameters per year; the LPR table; their pages."""
