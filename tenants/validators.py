"""What counts as an Atlassian Cloud site URL, a tenant id and a domain name."""

import re
import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

# Atlassian Cloud sites: *.atlassian.net (and the older *.jira.com), and the US
# Government cloud's own domain.
_SITE_HOST = re.compile(
    r"^(?P<name>[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)\.(?:atlassian\.net|jira\.com|atlassian-us-gov-mod\.net)$"
)
_DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")

SITE_URL_HELP = "It should look like https://your-site.atlassian.net"


def normalize_site_url(raw):
    """The canonical https://name.atlassian.net form of a site address, or ValidationError."""
    value = (raw or "").strip()
    if not value:
        raise ValidationError("Enter the site's address. " + SITE_URL_HELP + ".")
    lowered = value.lower()
    # Extra prefixes (the sandbox's sites) are kept as {prefix}{name}.
    for prefix in getattr(settings, "ATLASSIAN_EXTRA_SITE_PREFIXES", []):
        if lowered.startswith(prefix.lower()):
            name = lowered[len(prefix):].split("/")[0]
            if re.fullmatch(r"[a-z0-9][a-z0-9-]*", name or ""):
                return prefix + name
    if "://" not in lowered:
        lowered = "https://" + lowered
    not_a_site = ValidationError(f"{value} is not an Atlassian Cloud site address. " + SITE_URL_HELP + ".")
    try:
        # urlsplit raises on an unclosed IPv6 bracket, .port on a port that is not a number
        # ("acme.atlassian.net:abc", or any text with a colon): both are typing mistakes.
        parts = urlsplit(lowered)
        port = parts.port
    except ValueError:
        raise not_a_site from None
    if parts.scheme != "https":
        raise ValidationError("Atlassian Cloud sites are served over https. " + SITE_URL_HELP + ".")
    host = parts.hostname or ""
    if parts.username or parts.password or port or not _SITE_HOST.match(host):
        raise not_a_site
    return f"https://{host}"


def site_name_from_url(url):
    host = urlsplit(url).hostname or ""
    match = _SITE_HOST.match(host)
    return match.group("name") if match else url.rstrip("/").rsplit("/", 1)[-1]


def parse_tenant_id(raw):
    value = (raw or "").strip().strip("{}")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ValidationError(
            "A tenant id is a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47. Find it in the "
            "Microsoft Entra admin center, on the Overview page, as 'Tenant ID'."
        ) from None


def parse_domains(raw):
    names = [d.strip().lower().rstrip(".") for d in re.split(r"[\s,;]+", raw or "") if d.strip()]
    bad = [d for d in names if not _DOMAIN.match(d)]
    if bad:
        raise ValidationError(
            "These are not domain names: %(bad)s. Use names like contoso.com, separated by commas.",
            params={"bad": ", ".join(bad)},
        )
    return list(dict.fromkeys(names))
