from django.apps import AppConfig


class SandboxAtlassianConfig(AppConfig):
    name = "sandbox.atlassian"
    label = "sandbox_atlassian"
    verbose_name = "Sandbox: Atlassian"
