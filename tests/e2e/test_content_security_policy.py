"""Every main page carries the Content-Security-Policy and breaks none of it: no inline
script, style or handler is refused by the browser on the way through them."""

from tenants.models import Role
from tests.factories import PASSWORD, ConnectionFactory, MembershipFactory

from .conftest import sign_in

# Playwright evaluates init scripts itself, outside the page's policy, so this listener
# sees every violation the page causes, including ones the console does not report.
LISTEN = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


def _watch(context):
    context.add_init_script(LISTEN)
    seen = []

    def on_page(page):
        page.on("console", lambda m: seen.append(f"{page.url}: {m.text}") if "Content Security Policy" in m.text
                else None)

    context.on("page", on_page)
    return seen


def _violations(page):
    return [f"{page.url}: {v}" for v in page.evaluate("window.__csp || []")]


def test_the_main_pages_raise_no_csp_violation(browser, live_server, sandbox, settings, transactional_db):
    settings.SITE_URL = live_server.url
    membership = MembershipFactory(organization__name="Acme", role=Role.ADMIN)
    org = membership.organization
    connection = ConnectionFactory(organization=org, features=["user_mapping"])
    context = browser.new_context(ignore_https_errors=True)
    stranger = browser.new_context(ignore_https_errors=True)
    seen, seen_by_stranger = _watch(context), _watch(stranger)
    problems = []
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        response = page.goto(f"{live_server.url}/accounts/login/")
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        problems += _violations(page)
        sign_in(page, live_server, membership.user.email, PASSWORD)
        for path in (
            "/dashboard/",
            "/sites/",
            "/sites/new/",
            "/tenants/",
            "/tenants/new/",
            "/connections/",
            f"/connections/{connection.pk}/",
            f"/connections/{connection.pk}/users/",
            "/members/",
            "/audit/",
            f"/sites/{connection.site.pk}/",
            f"/tenants/{connection.tenant.pk}/",
            "/_sandbox/",
        ):
            assert page.goto(live_server.url + path).status == 200, path
            page.wait_for_load_state("networkidle")
            problems += _violations(page)

        # Confirmation pages: their Cancel goes back without any script.
        page.goto(f"{live_server.url}/sites/{connection.site.pk}/remove/")
        page.click("text=Cancel")
        page.wait_for_url(f"{live_server.url}/sites/{connection.site.pk}/")
        page.goto(f"{live_server.url}/tenants/{connection.tenant.pk}/disconnect/")
        page.click("text=Cancel")
        page.wait_for_url(f"{live_server.url}/tenants/{connection.tenant.pk}/")
        problems += _violations(page)

        # The consent link, created and copied, then opened by the tenant admin.
        page.goto(f"{live_server.url}/connections/{connection.pk}/")
        page.click("button:has-text('Make a link for the tenant admin')")
        link = page.input_value("#consent-link")
        page.click("button[data-copy]")
        problems += _violations(page)
        other = stranger.new_page()
        assert other.goto(link).status == 200
        problems += _violations(other)
    finally:
        context.close()
        stranger.close()
    assert not (problems + seen + seen_by_stranger), "\n".join(problems + seen + seen_by_stranger)
