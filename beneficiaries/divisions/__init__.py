"""The pages where the county office sees its townships and adds and renames
villages and village groups (the tree itself is the divisions app)."""
