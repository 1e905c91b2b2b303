"""Issue 17: no 500 anywhere in the API. Schemathesis generates requests from the OpenAPI schema the app
serves (/api/schema/), positive and negative, for every operation, and sends them to a live Daphne server on
PostgreSQL and Redis as the demo shop's owner, with real ids in the paths. Any 5xx fails the test, with the
request that caused it. Seeded (derandomized) and a few examples per operation, so CI runs it in minutes."""

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode

from tests import servers
from tests.core.fuzz_helpers import demo_owner_token, is_server_error, load_schema, path_parameters, real_ids

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

# Per operation and mode (positive, negative); 3 keeps the run to a few minutes on an idle CI machine.
EXAMPLES = int(os.environ.get("FANSI_FUZZ_EXAMPLES", "3"))
# Operations that would end the run itself: the owner handing the shop over, or rotating the token the run
# signs in with (the old one stops at once: tests/core/test_tokens_uploads.py covers rotation).
SKIPPED = {("POST", "/api/team/handover/"), ("POST", "/api/auth/token/rotate/")}


def _fuzz_operation(operation, base_url: str, headers: dict, ids: dict, mode: GenerationMode) -> list[str]:
    failures: list[str] = []
    strategy = operation.as_strategy(
        generation_mode=mode, path_parameters=path_parameters(operation.path, ids) or None
    )

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case) -> None:
        try:
            response = case.call(base_url=base_url, headers=headers, timeout=30)
        except requests.RequestException as exc:  # a dropped connection is a crash too
            failures.append(f"{case.method} {case.formatted_path}: {exc!r}")
            return
        if is_server_error(response):
            failures.append(
                f"{response.status_code} {case.method} {case.formatted_path} query={case.query!r} "
                f"body={str(case.body)[:300]!r}: {response.text[:300]!r}"
            )

    try:
        run()
    except Unsatisfiable:  # nothing to make invalid (no parameters, no body): the positive run covers it
        pass
    return failures


@contextmanager
def _daphne(env: dict) -> Iterator[str]:
    """A live Daphne like tests.servers.daphne_server, its log in a file: thousands of requests' access log
    lines would fill an unread pipe and block the server."""
    port = servers.free_port()
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
            cwd=servers.ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            servers.wait_for_port(port, proc)
            yield f"http://127.0.0.1:{port}"
        finally:
            servers.stop_process(proc)
            log.seek(0)
            tracebacks = [line for line in log if "Traceback" in line or "Internal Server Error" in line]
            print(f"fuzz: server log had {len(tracebacks)} tracebacks")


def test_no_operation_in_the_schema_answers_5xx(require_services):
    token, shop = demo_owner_token()
    ids = real_ids(shop)
    env = servers.test_database_env()
    env["FANSI_CHAT_RATE_LIMIT"] = "0"  # thousands of generated sends must not hit the per-user limit
    with _daphne(env) as base_url:
        schema = schemathesis.openapi.from_dict(load_schema(base_url))
        headers = {"Authorization": f"Token {token}"}
        failures: list[str] = []
        tried = 0
        for result in schema.get_all_operations():
            operation = result.ok()
            if (operation.method.upper(), operation.path) in SKIPPED:
                continue
            tried += 1
            print(f"fuzz: {operation.label}", flush=True)
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                failures += _fuzz_operation(operation, base_url, headers, ids, mode)
        assert tried > 150, f"only {tried} operations in the schema"
        # The owner's token still works: the run really was authenticated to the end.
        assert requests.get(f"{base_url}/api/shops/", headers=headers, timeout=30).status_code == 200
    assert not failures, f"{len(failures)} server errors:\n" + "\n".join(failures[:60])
