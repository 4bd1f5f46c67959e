"""Households and borrowers: the registry proper (people, positions and the
category they give, bank accounts, driven households), its search and its
pages."""
