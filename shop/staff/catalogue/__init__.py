"""The staff catalogue pages: titles, stock, covers (``/staff/catalogue``)."""
