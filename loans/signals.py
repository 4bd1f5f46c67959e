"""What the loans app tells the apps above it, which it may not import
(the fund, ``riskfund``, checks approvals and follows the ledger).

* ``approving``: sent inside the approval's transaction, after quota and
  budget were checked under their locks, with ``application`` and ``on``
  (the approval date). A receiver refuses by raising ``ValidationError``;
  the approval is then not recorded.
* ``ledger_posted``: sent inside the posting's transaction with
  ``entries``, the interest and principal entries just written (one from
  the browser, a batch from the API).
* ``ledger_reversed``: the same with ``reversal``, the reversal entry just
  written (its ``reverses`` is the entry undone).
"""

from django.dispatch import Signal

approving = Signal()
ledger_posted = Signal()
ledger_reversed = Signal()
