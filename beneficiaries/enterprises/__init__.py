"""Leading companies, co-operatives and family farms: as borrowers, as the
entity behind a borrower, and the households they drive."""
