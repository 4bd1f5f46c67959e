"""Loans and the co-op's append-only ledger: contracts, interest settlements,
principal repayments and reversals; balance and status as of any date; the
expected settlement schedule."""
