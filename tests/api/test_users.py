"""Sign-up, the password grant and /users/me through the app."""

from __future__ import annotations

import httpx
import pytest

from taskapi.testing.databases import execute
from tests.api.conftest import PASSWORD, User
from tests.api.problems import assert_problem, violations

pytestmark = [pytest.mark.anyio, pytest.mark.postgresql]


async def sign_up(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/users", json={"username": username, "password": password})


async def token_for(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/auth/token", data={"grant_type": "password", "username": username, "password": password})


async def test_sign_up_then_get_a_token_then_use_it(anonymous: httpx.AsyncClient) -> None:
    created = await sign_up(anonymous, "carol")
    assert created.status_code == 201
    user = created.json()
    assert set(user) == {"id", "username", "created_at"}
    assert user["username"] == "carol"

    granted = await token_for(anonymous, "carol")
    assert granted.status_code == 200
    assert granted.headers["cache-control"] == "no-store"
    token = granted.json()
    assert token["token_type"] == "bearer"
    assert token["expires_in"] == 3600

    me = await anonymous.get("/users/me", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert me.status_code == 200
    assert me.json() == user


async def test_passwords_are_stored_only_as_argon2_hashes(anonymous: httpx.AsyncClient, database_url: str) -> None:
    response = await sign_up(anonymous, "dave", "a very secret passphrase")
    assert response.status_code == 201
    assert "passphrase" not in response.text
    [(stored,)] = await execute(database_url, "SELECT password_hash FROM users WHERE username = 'dave'")
    everything = await execute(database_url, "SELECT * FROM users")
    assert stored.startswith("$argon2id$")
    assert not any("passphrase" in str(value) for row in everything for value in row)


async def test_a_taken_username_is_409(anonymous: httpx.AsyncClient) -> None:
    assert (await sign_up(anonymous, "erin")).status_code == 201
    problem = assert_problem(await sign_up(anonymous, "erin", "another long password"), 409)
    assert "erin" in problem["detail"]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ({"username": "ab", "password": PASSWORD}, "/username"),
        ({"username": "Alice", "password": PASSWORD}, "/username"),
        ({"username": "-alice", "password": PASSWORD}, "/username"),
        ({"username": "a" * 65, "password": PASSWORD}, "/username"),
        ({"username": "frank", "password": "short"}, "/password"),
        ({"username": "frank", "password": "x" * 257}, "/password"),
        ({"username": "frank", "password": "twelve chars\u0000"}, "/password"),
        ({"username": "frank"}, "/password"),
        ({"username": "frank", "password": PASSWORD, "admin": True}, "/admin"),
    ],
)
async def test_sign_up_validates_per_the_spec(
    anonymous: httpx.AsyncClient, body: dict[str, object], where: str
) -> None:
    assert ("body", where) in violations(await anonymous.post("/users", json=body))


async def test_wrong_password_and_unknown_user_get_the_same_401(anonymous: httpx.AsyncClient, alice: User) -> None:
    wrong = await token_for(anonymous, alice.username, "not the right password")
    unknown = await token_for(anonymous, "nobody-here", PASSWORD)
    for response in (wrong, unknown):
        assert_problem(response, 401)
        assert response.headers["www-authenticate"] == "Bearer"
    assert wrong.json() == unknown.json()


async def test_the_token_endpoint_takes_a_form(anonymous: httpx.AsyncClient, alice: User) -> None:
    as_json = await anonymous.post(
        "/auth/token", json={"grant_type": "password", "username": alice.username, "password": PASSWORD}
    )
    assert_problem(as_json, 415)
    other_grant = await anonymous.post(
        "/auth/token", data={"grant_type": "client_credentials", "username": alice.username, "password": PASSWORD}
    )
    assert ("body", "/grant_type") in violations(other_grant)
    repeated = await anonymous.post(
        "/auth/token",
        content=f"grant_type=password&username={alice.username}&username=x&password=p",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert ("body", "/username") in violations(repeated)


async def test_swagger_ui_extra_fields_are_accepted(anonymous: httpx.AsyncClient, alice: User) -> None:
    response = await anonymous.post(
        "/auth/token",
        data={
            "grant_type": "password",
            "username": alice.username,
            "password": PASSWORD,
            "scope": "",
            "client_id": "x",
        },
    )
    assert response.status_code == 200, response.text


async def test_me_needs_a_token(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/users/me")
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"
