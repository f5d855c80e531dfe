"""Every page has an icon: the admin's pages, which link none, get it from /favicon.ico."""

from django.contrib.staticfiles import finders


def test_the_favicon_address_leads_to_the_sites_icon_without_a_login(client):
    r = client.get("/favicon.ico")
    assert r.status_code == 301
    assert r["Location"].endswith("img/favicon.svg")
    assert finders.find("img/favicon.svg")
