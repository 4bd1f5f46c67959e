"""The division tree (county → township → village → village group) from the
official statistical codes: the bottom of the project, which every app hangs
off and which imports nothing of theirs. Who may see which division is the
accounts app's to say (``accounts.scoping``); the pages where the county
office adds villages are the registry's (``beneficiaries.divisions``)."""
