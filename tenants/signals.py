"""Signals other apps listen to, so `tenants` never imports them (connections refreshes the
status of a site's connections when what the site runs changes)."""

from django.dispatch import Signal

# Sent inside the transaction that changed the site's products; kwargs: site.
site_products_changed = Signal()
