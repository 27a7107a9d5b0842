"""The address of the client behind a request: the one place the portal works it out.

The audit trail, the consent-link rate limit and django-allauth's login rate limits all
ask here. X-Forwarded-For is believed only when the peer that connected to us is one of
TRUSTED_PROXIES (addresses or networks, empty by default: nothing is trusted), and then
only as far as the chain of trusted proxies goes: the header is read from the right, each
trusted proxy's entry skipped, and the first address that is not a trusted proxy is the
client. Anything a client wrote to the left of that is ignored, so it can neither forge
its address nor break a page with a malformed one: a value that is not an IP address
gives the peer's address instead.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings

# A real chain is a handful of hops; a longer header is someone's garbage.
_MAX_HOPS = 20


def parse_networks(values):
    """TRUSTED_PROXIES entries as networks; a malformed entry raises ValueError naming it."""
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address or network (CIDR)") from None
    return tuple(networks)


@lru_cache(maxsize=8)
def _trusted(values):
    return parse_networks(values)


def _address(value):
    """An IP address, or None for anything else (IPv4-mapped IPv6 taken as the IPv4)."""
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    return getattr(address, "ipv4_mapped", None) or address


def _is_trusted(address, networks):
    return any(address.version == network.version and address in network for network in networks)


def client_ip(request):
    """The client's IP address as a string, or None if not even the peer's is an address."""
    peer = _address(request.META.get("REMOTE_ADDR", ""))
    if peer is None:
        return None
    networks = _trusted(tuple(getattr(settings, "TRUSTED_PROXIES", ())))
    if not networks or not _is_trusted(peer, networks):
        return str(peer)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop for hop in forwarded.split(",") if hop.strip()][-_MAX_HOPS:]
    client = peer
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            # What a trusted proxy passed on is not an address: believe only the peer.
            return str(peer)
        client = address
        if not _is_trusted(address, networks):
            break
    return str(client)

