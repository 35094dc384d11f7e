"""A client team's program on the generated Python SDK (`make sdk`): `python python_scenario.py BASE_URL`.

tests/clients/test_python_sdk.py type-checks it against the installed SDK with mypy --strict, then runs it
in a venv that holds only the SDK and its dependencies. It exits non-zero at the first surprise.

The project's own mypy run cannot see the SDK (it is built per test run, never committed): there the SDK's
imports are ignored as missing (`import-not-found`), and the same comments are no error where they are found
(`unused-ignore`), so one file passes both runs.
"""

from __future__ import annotations

import secrets
import sys
from http import HTTPStatus
from typing import TypeVar

from taskapi_client import AuthenticatedClient, Client  # type: ignore[import-not-found, unused-ignore]
from taskapi_client.api.auth import create_token  # type: ignore[import-not-found, unused-ignore]
from taskapi_client.api.tasks import (  # type: ignore[import-not-found, unused-ignore]
    complete_task,
    create_task,
    delete_task,
    get_task,
    list_tasks,
    update_task,
)
from taskapi_client.api.users import create_user  # type: ignore[import-not-found, unused-ignore]
from taskapi_client.models import (  # type: ignore[import-not-found, unused-ignore]
    PasswordGrant,
    Problem,
    Task,
    TaskCreate,
    TaskPage,
    TaskUpdate,
    Token,
    User,
    UserCreate,
    ValidationProblem,
    ViolationLocation,
)
from taskapi_client.types import UNSET, Unset  # type: ignore[import-not-found, unused-ignore]

T = TypeVar("T")


def expect(kind: type[T], parsed: object) -> T:
    """The SDK returns a union of the operation's documented bodies: this one must be a `kind`."""
    assert isinstance(parsed, kind), f"expected a {kind.__name__}, got {parsed!r}"
    return parsed


def main(base_url: str) -> None:
    username, password = f"sdk-{secrets.token_hex(6)}", secrets.token_urlsafe(18)
    with Client(base_url=base_url, raise_on_unexpected_status=True) as public:
        user = expect(User, create_user.sync(client=public, body=UserCreate(username=username, password=password)))
        assert user.username == username
        grant = PasswordGrant(grant_type="password", username=username, password=password)  # sent form-encoded
        token = expect(Token, create_token.sync(client=public, body=grant))

    with AuthenticatedClient(base_url=base_url, token=token.access_token, raise_on_unexpected_status=True) as client:
        created = [
            expect(Task, create_task.sync(client=client, body=TaskCreate(title=f"Task {n}", priority=n)))
            for n in range(1, 6)
        ]
        assert [task.priority for task in created] == [1, 2, 3, 4, 5]
        minimal = expect(Task, create_task.sync(client=client, body=TaskCreate(title="Only a title")))
        assert (minimal.priority, minimal.description, minimal.completed) == (1, None, False)
        created.append(minimal)

        listed: list[Task] = []
        cursor: str | Unset = UNSET
        pages = 0
        while True:
            page = expect(TaskPage, list_tasks.sync(client=client, limit=4, cursor=cursor))
            listed += page.items
            pages += 1
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert [task.id for task in listed] == [task.id for task in created], listed
        assert pages == 2

        first = created[0]
        changed = expect(Task, update_task.sync(first.id, client=client, body=TaskUpdate(title="Renamed", priority=5)))
        assert (changed.title, changed.priority, changed.description) == ("Renamed", 5, None)
        assert changed.updated_at >= first.updated_at
        done = expect(Task, complete_task.sync(first.id, client=client))
        assert done.completed
        assert expect(Task, get_task.sync(first.id, client=client)) == done

        deleted = delete_task.sync_detailed(first.id, client=client)
        assert deleted.status_code == HTTPStatus.NO_CONTENT, deleted

        missing = expect(Problem, get_task.sync(first.id, client=client))
        assert (missing.status, missing.title) == (404, "Not Found"), missing

        invalid = expect(ValidationProblem, create_task.sync(client=client, body=TaskCreate(title="x", priority=99)))
        assert (invalid.status, invalid.title) == (422, "Unprocessable Content"), invalid
        assert [(e.location, e.pointer) for e in invalid.errors] == [(ViolationLocation.BODY, "/priority")], invalid

    print(f"python scenario: ok ({len(created)} tasks, {pages} pages, 404 and 422 as problems)")


if __name__ == "__main__":
    main(sys.argv[1])
