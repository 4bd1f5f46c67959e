"""The change history's pages: search by person, record, user and date, and the
export (the recording machinery is common.history)."""
