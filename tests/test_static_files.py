"""Static files: versioned URLs from url_for, a year-long cache for the current version only."""
import os

import pytest
from flask import url_for

pytestmark = pytest.mark.once

YEAR = "max-age=31536000"


@pytest.fixture
def static_app(app, tmp_path):
    """The app serving its static files from an empty folder the test writes to."""
    app.static_folder = str(tmp_path)
    (tmp_path / "site.css").write_text("body { color: black; }")
    return app


def versioned(app, filename):
    with app.test_request_context():
        return url_for("static", filename=filename)


def test_url_for_static_adds_a_hash_of_the_content(static_app):
    url = versioned(static_app, "site.css")
    assert url.startswith("/static/site.css?v=") and len(url.split("v=")[1]) == 12


def test_a_changed_file_gets_a_new_url(static_app, tmp_path):
    before = versioned(static_app, "site.css")
    (tmp_path / "site.css").write_text("body { color: navy; }")
    os.utime(tmp_path / "site.css", ns=(1, 1))  # a different mtime, however fast the test runs
    assert versioned(static_app, "site.css") != before


def test_the_current_version_is_cached_for_a_year(static_app):
    response = static_app.test_client().get(versioned(static_app, "site.css"))
    cache = response.headers["Cache-Control"]
    assert response.status_code == 200 and YEAR in cache and "immutable" in cache and "public" in cache
    assert "no-cache" not in cache


def test_a_not_modified_answer_keeps_the_long_cache(static_app):
    client, url = static_app.test_client(), versioned(static_app, "site.css")
    etag = client.get(url).headers["ETag"]
    response = client.get(url, headers={"If-None-Match": etag})
    assert response.status_code == 304 and YEAR in response.headers["Cache-Control"]


@pytest.mark.parametrize("query", ["", "?v=0123456789ab"])
def test_an_unversioned_or_stale_url_is_revalidated(static_app, query):
    response = static_app.test_client().get("/static/site.css" + query)
    assert response.status_code == 200 and YEAR not in response.headers.get("Cache-Control", "")


def test_a_missing_file_gets_no_version_and_a_404(static_app):
    url = versioned(static_app, "missing.css")
    assert url == "/static/missing.css"
    assert static_app.test_client().get(url).status_code == 404


def test_every_page_links_its_static_files_versioned(client, auth):
    auth.signup_and_login()
    html = client.get("/").get_data(as_text=True)
    for name in ("css/app.css", "css/pygments.css", "js/app.js", "vendor/htmx-4.0.1/htmx.min.js", "favicon.svg"):
        assert f'/static/{name}?v=' in html, name
