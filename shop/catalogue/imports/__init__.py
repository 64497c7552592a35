"""Catalogue files in: CSV (``csv``) and ONIX for Books 3.0 (``onix``) read into an
``ImportPlan``, compared with the catalogue and applied through the admin service (``plan``)."""
