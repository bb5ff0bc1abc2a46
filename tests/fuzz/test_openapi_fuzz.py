"""API fuzzing: Schemathesis reads Parley's own OpenAPI and sends what it describes.

Every request is signed in as a real account that owns real rooms, messages and an upload, and
half the generated ids and most usernames are swapped for real ones, so that the fuzzer gets
past "no such room" into the code behind it. Every answer must be no 5xx, with a documented
status and content type, and a body that matches the schema documented for that status.

The budget is bounded and the run is reproducible: a fixed seed (which Schemathesis derives one
seed per operation from) and no example database, so every run, in CI or not, sends the same
requests. To explore, change ``SEED`` or raise ``EXAMPLES_PER_OPERATION`` locally.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import strategies as st
from pydantic import SecretStr
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from parley.app import create_app
from parley.core.settings import Settings
from tests.conftest import TEST_SECRET_KEY
from tests.support.databases import run_in_fresh_loop
from tests.support.factories import create_account, create_room, post_message
from tests.support.files import png

SEED = 20261126
# Random cases per operation, besides the schema's examples and Schemathesis's coverage cases
# (boundaries, wrong types, undeclared methods): the module takes well under 90 s on two cores.
EXAMPLES_PER_OPERATION = 50
CHECKS: list[CheckFunction] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

# Path parameters aim at these stand-ins about half the time; the test swaps them for ids of
# real rooms, messages and an upload, which exist only once the server runs.
STAND_INS = {
    "room_id": "00000000-0000-4000-8000-00000000000a",
    "message_id": "00000000-0000-4000-8000-00000000000b",
    "upload_id": "00000000-0000-4000-8000-00000000000c",
}
# Accounts the sandbox registers (the owner signs every request); bodies with a username
# name one of them two times in three.
OWNER, FRIEND = "fuzz_owner", "fuzz_friend"


def _described_api() -> dict[str, Any]:
    """The document the app serves at /openapi.json (no setting changes it)."""
    return create_app(Settings(secret_key=SecretStr(TEST_SECRET_KEY))).openapi()


api = schemathesis.openapi.from_dict(
    _described_api(),
    config=schemathesis.Config.from_dict(
        {
            "seed": SEED,
            # How fast inputs are made says nothing about the API, and CI's two cores are busy.
            "suppress-health-check": ["too_slow"],
            "generation": {
                "max-examples": EXAMPLES_PER_OPERATION,
                "database": "none",
                # Every request carries the owner's token, never a generated one.
                "with-security-parameters": False,
            },
        }
    ),
)


@api.hook
def flatmap_path_parameters(
    context: schemathesis.HookContext, path_parameters: dict[str, Any] | None
) -> st.SearchStrategy[dict[str, Any] | None]:
    if not path_parameters:
        return st.just(path_parameters)
    return st.fixed_dictionaries(
        {
            name: st.sampled_from([value, STAND_INS[name]]) if name in STAND_INS else st.just(value)
            for name, value in path_parameters.items()
        }
    )


@api.hook
def flatmap_body(context: schemathesis.HookContext, body: Any) -> st.SearchStrategy[Any]:
    if not (isinstance(body, dict) and isinstance(body.get("username"), str)):
        return st.just(body)
    return st.sampled_from([body, {**body, "username": OWNER}, {**body, "username": FRIEND}])


@api.parametrize()
def test_every_answer_is_documented_and_none_is_a_server_error(
    case: schemathesis.Case[Any], sandbox: Sandbox
) -> None:
    case.path_parameters = sandbox.resolve(case.operation.label, case.path_parameters)
    case.call_and_validate(base_url=sandbox.url, headers=sandbox.headers, checks=CHECKS)


@dataclass(frozen=True)
class Sandbox:
    """The owner's token and what it may touch: for each operation a room and a message of its
    own (so that an operation leaving or deleting them blunts no other), and an upload."""

    url: str
    access_token: str
    upload_id: str
    rooms: dict[str, tuple[str, str]]  # operation label -> (room id, message id)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    def resolve(self, label: str, path_parameters: dict[str, Any]) -> dict[str, Any]:
        room_id, message_id = self.rooms[label]
        real = {
            STAND_INS["room_id"]: room_id,
            STAND_INS["message_id"]: message_id,
            STAND_INS["upload_id"]: self.upload_id,
        }
        return {name: real.get(value, value) for name, value in path_parameters.items()}


@pytest.fixture(scope="module")
def sandbox(module_server_url: str) -> Sandbox:
    labels = [result.ok().label for result in api.get_all_operations() if isinstance(result, Ok)]
    return run_in_fresh_loop(_furnish(module_server_url, labels))


async def _furnish(url: str, labels: list[str]) -> Sandbox:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        owner = await create_account(client, OWNER)
        await create_account(client, FRIEND)
        # The upload operations only read, so they share one upload, in a room of its own.
        gallery = await create_room(client, owner, "gallery")
        uploaded = await client.post(
            f"/api/rooms/{gallery['id']}/uploads",
            files={"file": ("tiny.png", png(8, 8), "image/png")},
            headers=owner.headers,
        )
        assert uploaded.status_code == 202, uploaded.text
        rooms = {}
        for label in labels:
            room = await create_room(client, owner, label)
            message = await post_message(client, owner, room["id"])
            rooms[label] = (str(room["id"]), str(message["id"]))
        return Sandbox(url, owner.access_token, str(uploaded.json()["id"]), rooms)
