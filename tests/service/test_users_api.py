"""`/v1/users`: an admin registers, lists and disables web-app users; every error names its field."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from service.auth.users import enabled_user
from tests.service.harness import ADMIN_TOKEN, Service, service_settings, started

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
async def service(database_url: str, tmp_path: Path) -> AsyncIterator[Service]:
    async with started(service_settings(database_url, tmp_path)) as running_service:
        yield running_service


async def create(service: Service, body: Any, headers: dict[str, str] = ADMIN) -> tuple[int, Any]:
    response = await service.client.post("/v1/users", json=body, headers=headers)
    return response.status, await response.json(content_type=None)


async def test_an_admin_registers_lists_and_disables_a_user(service: Service) -> None:
    status, user = await create(
        service,
        {
            "email": "Sam.Samordnare@kommun.example",
            "role": "coordinator",
            "regions": ["halland"],
            "organisations": ["Halmstads kommun"],
        },
    )
    assert status == 201
    assert user["user_id"].startswith("usr_")
    assert (user["role"], user["regions"], user["organisations"], user["status"]) == (
        "coordinator",
        ["halland"],
        ["Halmstads kommun"],
        "enabled",
    )
    listing = await (await service.client.get("/v1/users", headers=ADMIN)).json()
    assert [entry["email"] for entry in listing["users"]] == ["Sam.Samordnare@kommun.example"]

    # The address is matched without regard to case, as mail systems do.
    deleted = await service.client.delete("/v1/users/sam.samordnare@kommun.example", headers=ADMIN)
    assert deleted.status == 204
    listing = await (await service.client.get("/v1/users", headers=ADMIN)).json()
    assert listing["users"][0]["status"] == "disabled"
    again = await service.client.delete("/v1/users/sam.samordnare@kommun.example", headers=ADMIN)
    assert again.status == 404


async def test_scope_defaults_to_all_and_a_disabled_address_comes_back_with_the_new_scope(
    service: Service,
) -> None:
    status, first = await create(service, {"email": "gun.granskare@kommun.example", "role": "auditor"})
    assert status == 201
    assert (first["regions"], first["organisations"]) == (["*"], ["*"])
    await service.client.delete("/v1/users/gun.granskare@kommun.example", headers=ADMIN)
    status, back = await create(
        service, {"email": "gun.granskare@kommun.example", "role": "coordinator", "regions": ["blekinge"]}
    )
    assert status == 201
    assert back["user_id"] == first["user_id"]
    assert (back["role"], back["regions"], back["status"]) == ("coordinator", ["blekinge"], "enabled")


async def test_an_enabled_address_is_a_conflict(service: Service) -> None:
    body = {"email": "sam@kommun.example", "role": "coordinator"}
    assert (await create(service, body))[0] == 201
    status, problem = await create(service, {**body, "email": "SAM@kommun.example"})
    assert status == 409
    assert problem["type"].endswith("/user-exists")


async def test_every_bad_field_is_named_and_nothing_is_stored(service: Service) -> None:
    status, problem = await create(
        service,
        {
            "email": "not-an-address",
            "role": "integration",
            "regions": ["halland", "atlantis"],
            "organisations": [],
            "colour": "blue",
        },
    )
    assert status == 400
    locations = {tuple(error["loc"]) for error in problem["errors"]}
    assert locations == {("email",), ("role",), ("organisations",), ("colour",)}
    assert "not-an-address" not in str(problem)
    status, problem = await create(
        service, {"email": "sam@kommun.example", "role": "coordinator", "regions": ["halland", "atlantis"]}
    )
    assert status == 400
    assert [error["loc"] for error in problem["errors"]] == [["regions", 1]]
    assert "atlantis" not in str(problem)
    status, problem = await create(service, ["not", "an", "object"])
    assert status == 400
    listing = await (await service.client.get("/v1/users", headers=ADMIN)).json()
    assert listing["users"] == []


async def test_only_an_admin_manages_users(service: Service) -> None:
    coordinator = {"Authorization": f"Bearer {await service.token('coordinator', ['*'], ['*'])}"}
    assert (await create(service, {"email": "x@kommun.example", "role": "admin"}, coordinator))[0] == 403
    assert (await service.client.get("/v1/users", headers=coordinator)).status == 403
    assert (await service.client.delete("/v1/users/x@kommun.example", headers=coordinator)).status == 403
    assert (await service.client.get("/v1/users")).status == 401


async def test_a_users_principal_has_the_role_and_scope_a_token_would(service: Service) -> None:
    status, created = await create(
        service,
        {
            "email": "sam@kommun.example",
            "role": "coordinator",
            "regions": ["halland"],
            "organisations": ["Halmstads kommun", "Region Halland"],
        },
    )
    assert status == 201
    async with service.runtime.pool.acquire() as connection:
        user = await enabled_user(connection, email="sam@kommun.example")
    assert user is not None
    principal = user.principal()
    assert (principal.token_id, principal.kind, principal.role) == (created["user_id"], "user", "coordinator")
    assert principal.sees("halland", ["Region Halland"], "default")
    assert not principal.sees("blekinge", ["Region Halland"], "default")
    assert not principal.sees("halland", ["Varbergs kommun"], "default")
    assert principal.region_filter() == ["halland"]
