from django.apps import AppConfig


class ConnectionsConfig(AppConfig):
    name = "connections"
    verbose_name = "Connections"

    def ready(self) -> None:
        # Imported once the apps are ready: connections.apps is loaded before any model exists,
        # and both modules import models.
        from tenants.signals import site_products_changed

        from .status import site_products_changed_refresh

        site_products_changed.connect(site_products_changed_refresh, dispatch_uid="connections-site-products")
