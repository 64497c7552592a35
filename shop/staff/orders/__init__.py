"""The staff order desk pages (``/staff/orders``)."""
