"""The two tiny apps the shop's pages are compared with, served by the same gunicorn settings."""
