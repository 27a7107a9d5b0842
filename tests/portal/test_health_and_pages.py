from django.urls import reverse


def test_healthz_reports_database_and_broker(client, db):
    response = client.get(reverse("healthz"))
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] and body["checks"]["broker"]["ok"]


def test_healthz_says_when_the_broker_is_down(client, db, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["ok"] is False


def test_unknown_pages_get_the_portals_own_404(client, db):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert b"We can't find that page" in response.content
    assert b"portal.css" in response.content


def test_the_500_page_is_plain_and_reassuring(rf):
    from portal.views import server_error

    response = server_error(rf.get("/"))
    assert response.status_code == 500
    assert b"Nothing you entered was saved half-way" in response.content


def test_the_front_page_invites_to_sign_in(client, db):
    assert b"Sign in" in client.get("/").content
