"""Moving the registry in and out of Excel: the workbook's columns (resources),
the checked, all-or-nothing import with its row errors, and the exports."""
