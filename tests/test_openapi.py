"""The OpenAPI document: public, valid OpenAPI 3.1, and true to every route of the API."""
import re

import pytest
import schemathesis

from app.limits import MESSAGE_CONTENT_MAX, PROJECT_NAME_MAX

METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
def document(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200 and response.is_json
    return response.json


def operations(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def api_routes(app):
    """(OpenAPI path, method, path parameters) of every /api route the app serves."""
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                yield path, method.lower(), frozenset(rule.arguments)


def test_document_is_served_without_authentication(client):
    assert client.get("/api/openapi.json").status_code == 200
    assert client.get("/api/openapi.json", headers={"Authorization": "Bearer revoked"}).status_code == 200
    assert client.get("/api/projects").status_code == 401  # the allow-list holds only the document


def test_document_is_valid_openapi_3_1(document):
    assert document["openapi"].startswith("3.1")
    schemathesis.openapi.from_dict(document).validate()


def test_every_route_of_the_api_is_described_and_nothing_else(app, document):
    described = {(path, method) for path, method, _ in operations(document)}
    served = {(path, method) for path, method, _ in api_routes(app)}
    assert described == served


def test_path_parameters_match_the_routes(app, document):
    arguments = {(path, method): names for path, method, names in api_routes(app)}
    for path, method, operation in operations(document):
        in_path = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
        assert in_path == arguments[path, method], (method, path)


def test_bearer_authentication_is_described_and_required_except_for_the_document(document):
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": "An API token of the account."}
    assert document["security"] == [{"bearerAuth": []}]
    public = [(path, method) for path, method, op in operations(document) if op.get("security") == []]
    assert public == [("/api/openapi.json", "get")]


def test_each_operation_describes_its_errors(document):
    for path, method, operation in operations(document):
        if operation.get("security") == []:
            continue
        statuses = set(operation["responses"])
        expected = {"401", "429"}
        if "{" in path:
            expected.add("404")
        if "requestBody" in operation:
            expected |= {"400", "413", "415"}
        if operation["operationId"] in ("postMessage", "retryMessage"):
            expected |= {"409", "502", "503", "504"}
        assert expected <= statuses, (method, path, expected - statuses)
        assert operation["responses"]["429"]["headers"]["Retry-After"]


def test_limits_in_the_document_are_the_apps(document):
    schemas = document["components"]["schemas"]
    assert schemas["ProjectCreate"]["properties"]["name"]["maxLength"] == PROJECT_NAME_MAX
    assert schemas["MessageCreate"]["properties"]["content"]["maxLength"] == MESSAGE_CONTENT_MAX
    assert schemas["Thread"]["properties"]["model_provider"]["enum"] == ["anthropic", "google", "deepseek"]
