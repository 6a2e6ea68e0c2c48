"""OpenAPI-driven fuzzing against a live server: no 5xx, every status documented, bodies match the schema.

schemathesis is used as a library (its pytest plugin stays off, see pytest.ini: every pytest start-up,
including the suites the reporters run on Dask workers, would import it)."""

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from backend.app import create_app
from backend.openapi_doc import documented
from backend.settings import Settings
from support import LiveBackend, attach_tokens, bearer, make_settings

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Logout would end the fuzzer's own session; the demo starts a real Dask cluster.
SKIPPED = "^/api/(auth/logout|demo)"
EXAMPLES_PER_OPERATION = 8
# The document /api/schema/openapi.json serves, built from the app without starting it.
DOCUMENT = documented(create_app(Settings(db=":memory:")).openapi_schema.to_schema())
OPERATIONS = [result.ok() for result in schemathesis.openapi.from_dict(DOCUMENT).exclude(
    path_regex=SKIPPED).get_all_operations()]


@pytest.fixture(scope="module")
def backend(tmp_path_factory):
    live = LiveBackend(make_settings(tmp_path_factory.mktemp("fuzz"))).start()
    with httpx.Client(timeout=30) as http:
        attach_tokens(live, http, live.url)
        served = http.get(f"{live.url}/api/schema/openapi.json", headers=bearer(live.admin_token)).json()
    assert served == DOCUMENT
    yield live
    live.stop()


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
def test_api_answers_as_documented(operation, backend):
    cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))

    @seed(20261204)
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=cases)
    def answers_as_documented(case):
        response = case.call(base_url=backend.url, headers=bearer(backend.admin_token), timeout=30)
        case.validate_response(response, checks=CHECKS)

    answers_as_documented()
