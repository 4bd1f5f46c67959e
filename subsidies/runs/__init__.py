"""The yearly subsidy run: its life (compute in parts, submit, approve, send
back, cancel), the lines with their working and adjustments, and its pages.
The rule itself is subsidies/calculation.py."""
