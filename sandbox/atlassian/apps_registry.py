"""The portal's OAuth 2.0 (3LO) app registration inside the sandbox."""

from django.conf import settings

from sandbox import defaults

from .models import App

CALLBACK_PATH = "/connect/atlassian/callback"


def ensure_portal_app() -> App:
    app, _ = App.objects.update_or_create(
        client_id=defaults.ATLASSIAN_CLIENT_ID,
        defaults={"client_secret": defaults.ATLASSIAN_CLIENT_SECRET, "name": "Connections portal"},
    )
    register_redirect_uri(app.client_id, settings.SITE_URL + CALLBACK_PATH)
    return App.objects.get(pk=app.pk)


def register_redirect_uri(client_id, uri):
    """Add one exact redirect URI to an app (tests: the live server's random port)."""
    app = App.objects.get(client_id=client_id)
    if uri not in app.redirect_uris:
        app.redirect_uris = [*app.redirect_uris, uri]
        app.save(update_fields=["redirect_uris"])


def redirect_uri_allowed(app, uri) -> bool:
    # The portal's callback follows settings.SITE_URL, which tests change at run time.
    if app.client_id == defaults.ATLASSIAN_CLIENT_ID and uri == settings.SITE_URL + CALLBACK_PATH:
        return True
    return uri in app.redirect_uris
