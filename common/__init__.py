"""Plain helpers every app uses and that know nothing of the domain: money
rounding, identifier validation and masking, PDF rendering, and the change
history's machinery (``common.history``: the base of every historical model,
who and why, append-only). The bottom layer: it imports no app."""
