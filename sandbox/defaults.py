"""Fixed facts of the sandbox that the portal's settings use when SANDBOX_ENABLED is on.

Plain constants (no Django imports): portal/settings.py imports this module.
"""

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8443

# The portal's app registrations inside the sandbox. Not secrets: sandbox only.
MICROSOFT_CLIENT_ID = "5b1f3c1e-8a59-4f7e-9d2b-7c0a4f6e2d11"
MICROSOFT_CLIENT_SECRET = "sandbox-ms-secret-Qm3v8Lx2Pz7Tn4Wk"
ATLASSIAN_CLIENT_ID = "sandboxAtlassianClientId0001"
ATLASSIAN_CLIENT_SECRET = "sandbox-atl-secret-Hd6Rj9Ys1Uf5Gc0B"
# The id in the manifest of the portal's Teams app (its bot is the Microsoft app above). Each
# sandbox tenant has the app in its catalog under a catalog id of its own.
TEAMS_APP_MANIFEST_ID = "0c5e7a4d-3b1f-4d26-9a8e-6f2b1d7c4e90"


def origin(host=DEFAULT_HOST, port=DEFAULT_PORT):
    return f"https://{host}:{port}"


# Where each real service lives inside the sandbox's origin ("only base URLs change").
# Microsoft login is at the origin's root because msal takes the first path segment of
# the authority as the tenant.
MICROSOFT_AUTHORITY_PATH = ""  # https://login.microsoftonline.com -> {origin}
GRAPH_PATH = "/graph"  # https://graph.microsoft.com -> {origin}/graph
ATLASSIAN_AUTH_PATH = "/atlassian-auth"  # https://auth.atlassian.com -> {origin}/atlassian-auth
ATLASSIAN_API_PATH = "/atlassian-api"  # https://api.atlassian.com -> {origin}/atlassian-api
ATLASSIAN_SITES_PATH = "/sites"  # https://{name}.atlassian.net -> {origin}/sites/{name}
BOT_SERVICE_PATH = "/botframework/teams"  # https://smba.trafficmanager.net/teams -> {origin}/botframework/teams

# Plain-HTTP loopback port for the browser-facing pages (sign-in, consent, admin consent,
# Atlassian authorize), so a demo user sees no certificate warning. Token endpoints and
# APIs stay on the HTTPS origin. Cookies are per host, not per port: the sandbox never
# uses the portal's cookie names.
DEFAULT_BROWSER_PORT = DEFAULT_PORT - 1


def browser_origin(host=DEFAULT_HOST, port=DEFAULT_BROWSER_PORT):
    return f"http://{host}:{port}"


# The portal's exact redirect URIs, relative to its SITE_URL (no wildcards).
MICROSOFT_REDIRECT_PATHS = ("/connect/microsoft/callback", "/connect/microsoft/adminconsent/callback")
