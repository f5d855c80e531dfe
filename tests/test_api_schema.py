"""The API does what its OpenAPI schema (/api/schema/) says: schemathesis calls every operation with generated
requests, with a real token of a user who owns predictions (answered ones with feedback and a heatmap, pending,
failed), and checks that no answer is a 5xx and that every status code, header and body is one the schema
documents. Examples are limited so that the file runs in well under a minute. The rate limits, which generated
requests never reach, are checked against the schema at low rates."""

import hypothesis
import numpy as np
import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token

from catdog_site.wsgi import application
from classifier.actions import do_give_feedback
from classifier.heatmaps import stored_grid
from classifier.models import Prediction
from trainer.models import ModelVersion

from .conftest import image_bytes

# Every operation with a few positive and negative examples each; the whole file stays under a minute.
EXAMPLES_PER_OPERATION = 25
# The same examples on every run (Hypothesis's derandomize), so that CI judges the change it runs on and not a
# new draw; set it to False to explore new examples while working on the API.
DERANDOMIZE = True


@pytest.fixture
def owned(make_prediction):
    """The caller's predictions of each kind, whose ids the generated requests use half of the time."""
    version = ModelVersion.objects.create(
        name="pets", status="ready", architecture="mobilenet_v2", class_names=["cat", "dog"], is_active=True
    )
    answered = {"status": "done", "confidence": 0.9, "probabilities": {"cat": 0.9, "dog": 0.1}}
    done = make_prediction(label="cat", verdict="cat", model_version=version, **answered)
    do_give_feedback(done, done.owner, "dog")
    Prediction.objects.filter(pk=done.pk).update(
        heatmap_grid=stored_grid(np.eye(7)), upright_width=64, upright_height=48
    )
    unsure = make_prediction(label="cat", verdict="unsure", model_version=version, **answered)
    failed = make_prediction(status="failed", error="The photo could not be decoded for the model.")
    return [done.pk, unsure.pk, failed.pk, make_prediction().pk]


@pytest.fixture
def wsgi_app(db):
    """The site's WSGI application, called in the test's own transaction: as Django's test client does, a request
    must not close the test's database connection when it ends."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)

    def app(environ, start_response):
        environ.setdefault("REMOTE_ADDR", "127.0.0.1")  # as every server sets it (the WSGI transport does not)
        return application(environ, start_response)

    yield app
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def api_schema(wsgi_app, owned):
    schema = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app)

    @schema.hook
    def flatmap_path_parameters(context, path_parameters):
        if not path_parameters or "id" not in path_parameters:
            return st.just(path_parameters)
        return st.one_of(st.just(path_parameters), st.sampled_from(owned).map(lambda pk: {**path_parameters, "id": pk}))

    return schema


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture
def token(user):
    return Token.objects.create(user=user).key


@schema.parametrize()
@hypothesis.settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=DERANDOMIZE)
def test_every_answer_is_one_the_schema_documents(case, token):
    # Not "every schema-valid request is accepted": a photo is refused by its content, a verdict by the caller's
    # classes, which no schema can say; each such 400 is documented, with its shape. Nor "every schema-violating
    # request is refused": the API is lenient where it does no harm (an empty ?page= is the first page, as DRF has
    # it; ?overlay= other than 1 is no overlay).
    lenient = [schemathesis.checks.positive_data_acceptance, schemathesis.checks.negative_data_rejection]
    case.call_and_validate(headers={"Authorization": f"Token {token}"}, excluded_checks=lenient)


@pytest.fixture
def low_rates(settings):
    """One call a minute of each kind, from a clean slate: the next call is throttled (429)."""
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api": "1/m", "uploads": "1/m"}}
    settings.CATDOG_RATELIMIT_LOGIN_PER_IP = "1/m"
    cache.clear()
    yield
    cache.clear()


@pytest.mark.parametrize(
    ("path", "method", "body"),
    [
        ("/api/predictions/", "GET", None),
        ("/api/predictions/", "POST", {"image": image_bytes()}),
        ("/api/token/", "POST", {"username": "alice", "password": "wrong"}),
    ],
)
def test_a_throttled_call_is_answered_as_the_schema_says(api_schema, token, low_rates, path, method, body):
    """Generated requests never reach the rates; a 429 has its documented shape and says when to come back."""
    operation = api_schema[path][method]
    media_type = "multipart/form-data" if path == "/api/predictions/" else "application/x-www-form-urlencoded"
    request = {"body": body, "media_type": media_type} if body else {}
    case = operation.Case(headers={"Authorization": f"Token {token}"}, **request)
    case.call()
    throttled = case.call()
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"][0]) > 0
    checks = schemathesis.checks
    case.validate_response(
        throttled,
        checks=[checks.status_code_conformance, checks.content_type_conformance, checks.response_schema_conformance],
    )
