"""What every check of a connection stands on: an app-only token (its roles), the stored
delegated token, and the Atlassian site's authorization. Fetched once per run (a Probe) and
reported as the "credentials" checks."""



from tenants.models.directory import SiteAuthMode, SiteAuthStatus

from .. import permissions
from ..atlassian import client as atlassian_client
from ..atlassian import refresh
from ..microsoft import client as microsoft_client
from ..microsoft import consent, consent_proof, graph
from ..microsoft import refresh as microsoft_refresh
from . import results as c
from .results import CONSENT_HINT

# The app has no service principal (consent withdrawn or never given) or the grant is gone.
_NO_CONSENT = {"AADSTS700016", "AADSTS65001", "AADSTS7000229"}


class Probe:
    """Facts about one connection's credentials, gathered at most once per run."""

    def __init__(self, connection):
        self.connection = connection
        self.tenant = connection.tenant
        self.site = connection.site
        self.roles = set()
        # Set until an app-only token was obtained: the checks that need one are then skipped.
        self.app_error = "not checked"
        self._delegated = None
        self._delegated_done = False
        self.delegated_skip_reason = "The delegated sign-in could not be renewed (see the credential checks)."
        self.delegated_principal = ""
        # Set when Microsoft's token endpoint throttled a request of this run (client.Throttled
        # or graph.TokenThrottled, with `retry_at`): the run is then postponed, not recorded.
        self.throttled = None

    # --- app-only --------------------------------------------------------------------------
    def load_app_roles(self):
        if not permissions.application_permissions(self.connection.features):
            self.app_error = "not needed"
            return c.Result(c.SKIPPED, "The features need no application permission: no app-only token is used.")
        try:
            consent_proof.require_app_access(self.connection)
        except consent_proof.NoOwnConsent as exc:
            # Not even a token is asked for: what the tenant granted someone else is not ours to check.
            self.app_error = str(exc)
            consent.connection_record_observed_roles(
                connection=self.connection, application_observed=[], audit_unchanged=False
            )
            return c.Result(c.FAILED, str(exc), exc.remedy, c.PERMISSION)
        try:
            roles = microsoft_client.application_roles(tenant_id=self.tenant.tenant_id, cloud=self.tenant.cloud)
        except microsoft_client.Throttled as exc:
            self.app_error, self.throttled = str(exc), exc
            return c.Result(c.SKIPPED, str(exc))
        except microsoft_client.MicrosoftError as exc:
            self.app_error = str(exc)
            if exc.code in _NO_CONSENT or exc.error == "unauthorized_client":
                return c.Result(
                    c.FAILED,
                    f"Microsoft gives the portal no app-only token for tenant {self.tenant}: its consent was "
                    "withdrawn.",
                    f"Ask a Global Administrator of {self.tenant} to grant consent again {CONSENT_HINT}.",
                    c.NEEDS_REAUTH,
                )
            if exc.error == "invalid_client":
                return c.Result(c.FAILED, f"Microsoft refused the portal's own app credentials ({exc.code}).",
                                "The portal operator must renew the app's client secret.", c.OTHER)
            return c.Result(c.FAILED, f"No app-only token for {self.tenant} just now: {exc}"[:500],
                            "Try again later.", c.UNAVAILABLE)
        self.roles, self.app_error = set(roles), None
        # The checks must see the grants as they are now, not as a cached token knew them.
        graph.forget_tokens(self.tenant.tenant_id)
        # Drift shows up here: a permission revoked in the tenant after consent.
        consent.connection_record_observed_roles(
            connection=self.connection, application_observed=roles, audit_unchanged=False
        )
        if not roles:
            needed = permissions.application_permissions(self.connection.features)
            return c.Result(
                c.FAILED,
                f"The app-only token for {self.tenant} carries none of the {len(needed)} application permission(s) "
                "the features need: consent was withdrawn.",
                f"Ask a Global Administrator of {self.tenant} to grant consent again {CONSENT_HINT}.",
                c.PERMISSION,
            )
        return c.Result(c.PASSED, f"Obtained an app-only token for {self.tenant} with {len(roles)} permission(s).")

    # --- delegated -------------------------------------------------------------------------
    def renew_delegated(self) -> c.Result:
        """Renew the stored delegated token (connections.microsoft.refresh, single-flight)."""
        self._delegated_done = True
        scopes = permissions.delegated_scopes(self.connection.features) or ["User.Read"]
        credential = microsoft_refresh.delegated_credential(self.connection)
        self.delegated_principal = (credential.principal if credential else "") or "the admin"
        try:
            token = microsoft_refresh.renew_delegated(self.connection, scopes=scopes)
        except microsoft_refresh.NoDelegatedSignIn as exc:
            self.delegated_skip_reason = str(exc)
            return c.Result(c.SKIPPED, self.delegated_skip_reason)
        except microsoft_client.Throttled as exc:
            # Busy is not refused: the stored sign-in stays as good as it was.
            self.throttled = exc
            self.delegated_skip_reason = str(exc)
            return c.Result(c.SKIPPED, str(exc))
        except microsoft_refresh.RenewalUnavailable as exc:
            self.delegated_skip_reason = str(exc)
            return c.Result(c.FAILED, self.delegated_skip_reason, "Try again later.", c.UNAVAILABLE)
        except microsoft_refresh.RenewalRefused as exc:
            self.delegated_principal = exc.principal
            self.delegated_skip_reason = "The delegated sign-in could not be renewed (see the credential checks)."
            return c.Result(
                c.FAILED,
                f"Microsoft refused to renew the delegated sign-in of {self.delegated_principal} ({exc.code}).",
                f"Give permission again as an administrator of {self.tenant}.",
                c.NEEDS_REAUTH,
            )
        self.delegated_principal = token.principal
        self._delegated = token.access_token
        return c.Result(c.PASSED, f"Renewed the delegated sign-in of {self.delegated_principal}.")

    def delegated_token(self):
        if not self._delegated_done:
            self.renew_delegated()
        return self._delegated

    # --- Atlassian -------------------------------------------------------------------------
    def atlassian_site(self):
        site = self.site
        if site.auth_status == SiteAuthStatus.NEEDS_REAUTH:
            return c.Result(c.FAILED, f"The Atlassian site {site.name} needs re-authorization.",
                            "Authorize it again from the site's page.", c.NEEDS_REAUTH)
        if site.auth_status != SiteAuthStatus.AUTHORIZED:
            return c.Result(c.SKIPPED, f"The Atlassian site {site.name} is not authorized yet: authorize it first.")
        if site.auth_mode == SiteAuthMode.API_TOKEN:
            return c.Result(c.PASSED, f"{site.name} uses an API token of {site.account_email}.")
        try:
            refresh.access_token(site)
        except refresh.NeedsReauthorization:
            return c.Result(c.FAILED, f"The Atlassian site {site.name} needs re-authorization.",
                            "Authorize it again from the site's page.", c.NEEDS_REAUTH)
        except refresh.NotAuthorized as exc:
            return c.Result(c.SKIPPED, str(exc))
        except atlassian_client.AtlassianError as exc:
            return c.Result(c.FAILED, f"Atlassian did not renew the token of {site.name} just now ({exc}).",
                            "Try again later.", c.UNAVAILABLE)
        return c.Result(c.PASSED, f"{site.name}'s OAuth 2.0 token is valid.")
