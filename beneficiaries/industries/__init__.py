"""The industry tree (sectors and the kinds under them) the registry and the
programmes classify by."""
