"""Applications and their way through the approvals (submitted → village
recommended → township reviewed → county approved), the household's quota
and the programme's budget checked under locks."""
