"""Microsoft's AADSTS error codes, said in plain words with what to do next."""

import re

_AADSTS = re.compile(r"AADSTS\d{1,12}(?=:|\s|$)")

ADVICE = {
    "AADSTS65004": (
        "The tenant admin declined to grant the permissions.",
        "Ask them what stopped them (the permission table on the consent page says why each one is "
        "needed), then send a new consent link.",
    ),
    "AADSTS65001": (
        "The permissions have not been granted in this tenant yet.",
        "A Global Administrator (or Privileged Role / Cloud Application Administrator) of the tenant "
        "needs to open the consent link and grant them.",
    ),
    "AADSTS90094": (
        "The person who signed in is not allowed to grant these permissions for the whole organization.",
        "Send the consent link to a Global Administrator of the tenant instead.",
    ),
    "AADSTS900941": (
        "An administrator's approval is needed for these permissions.",
        "Send the consent link to a Global Administrator of the tenant.",
    ),
    "AADSTS90008": (
        "An administrator's approval is needed for these permissions.",
        "Send the consent link to a Global Administrator of the tenant.",
    ),
    "AADSTS50194": (
        "The portal's app registration is not set up for other organizations (it is single-tenant).",
        "The portal's operator must make the app registration multi-tenant.",
    ),
    "AADSTS700082": (
        "The stored sign-in expired after a long time without use.",
        "Grant permission again from the connection page.",
    ),
    "AADSTS50020": (
        "The account that signed in does not belong to this tenant.",
        "Sign in with an administrator account of the tenant this link is for.",
    ),
    "AADSTS700016": (
        "Microsoft does not know the portal's app in this tenant or cloud.",
        "Tell the portal's operator: the app registration id may be wrong, or the tenant is in another cloud.",
    ),
    "AADSTS7000215": (
        "The portal's own credentials were refused by Microsoft.",
        "Tell the portal's operator: the app's client secret is wrong or expired.",
    ),
    "AADSTS50011": (
        "The portal's callback address is not registered with Microsoft.",
        "Tell the portal's operator: register the callback URL shown in the README.",
    ),
    "AADSTS70008": (
        "The sign-in took too long and expired.",
        "Start again from the link; it still works if it hasn't expired.",
    ),
    "AADSTS54005": (
        "This sign-in was already used.",
        "Start again from the link; it still works if it hasn't expired.",
    ),
}

_BY_ERROR = {
    "access_denied": ADVICE["AADSTS65004"],
    "consent_required": ADVICE["AADSTS65001"],
    "wrong_tenant": (
        "The account that signed in belongs to another tenant.",
        "Sign in with an administrator account of the tenant this link is for.",
    ),
    "invalid_state": (
        "The sign-in did not match one this browser started (it may be old, or from another window).",
        "Start again from the link.",
    ),
    "unverified_sign_in": (
        "The sign-in could not be verified: it does not carry the proof of the sign-in this browser started "
        "(it may have been replayed, or come from another window). Nothing was recorded.",
        "Start again from the link (or from \"Give permission\"); it still works if it hasn't expired.",
    ),
    "invalid_id_token": (
        "Microsoft's answer could not be verified, so nothing was recorded.",
        "Try again; if it keeps happening, tell the portal's operator.",
    ),
    "missing_permissions": (
        "The tenant did not grant every permission this connection needs.",
        "Ask a Global Administrator to open a new consent link.",
    ),
}

_UNKNOWN = (
    "Microsoft could not complete the request.",
    "Try again in a few minutes; if it keeps happening, tell the portal's operator the error code.",
)


def explain(code="", error=""):
    """(what happened, what to do) for an AADSTS code or an OAuth error name."""
    if code in ADVICE:
        return ADVICE[code]
    return _BY_ERROR.get(error, _UNKNOWN)


def code_from_description(description):
    """'AADSTS65004: User declined ...' -> 'AADSTS65004'; anything else (a description a
    forged callback made up) -> ''. Codes are digits, so never longer than their column."""
    match = _AADSTS.match((description or "").strip())
    return match.group(0) if match else ""
