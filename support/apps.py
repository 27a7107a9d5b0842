from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "support"
    verbose_name = "Pages showing organizations and connections together"
