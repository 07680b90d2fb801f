"""Every role rule of the server, and the system actor that replaces forged admins."""

from __future__ import annotations

import pytest

from rtc_server.base.access import (
    require_admin,
    require_board_writer,
    require_sender,
    require_staff,
    require_student,
)
from rtc_server.base.exceptions import PermissionDenied
from rtc_server.base.identity import ROLES, Identity


def who(role: str) -> Identity:
    return Identity(session_id="s1", user_id=f"u-{role}", name=role, role=role)  # type: ignore[arg-type]


@pytest.mark.parametrize("role,allowed", [("teacher", True), ("admin", True),
                                          ("student", False), ("observer", False)])
def test_staff_rule(role: str, allowed: bool) -> None:
    if allowed:
        require_staff(who(role), "end the session")
    else:
        with pytest.raises(PermissionDenied, match=f"only a teacher or admin may end the "
                                                   f"session; you are '{role}'"):
            require_staff(who(role), "end the session")


@pytest.mark.parametrize("role,allowed", [("admin", True), ("teacher", False),
                                          ("student", False), ("observer", False)])
def test_admin_rule(role: str, allowed: bool) -> None:
    if allowed:
        require_admin(who(role), "reopen a class")
    else:
        with pytest.raises(PermissionDenied, match=f"only an admin may reopen a class; "
                                                   f"you are '{role}'"):
            require_admin(who(role), "reopen a class")
    require_admin(Identity.system("s1", "api"), "reopen a class")


def test_student_and_sender_rules() -> None:
    require_student(who("student"), "answer questions")
    with pytest.raises(PermissionDenied, match="observers only receive"):
        require_student(who("observer"), "answer questions")
    with pytest.raises(PermissionDenied, match="only students answer questions"):
        require_student(who("teacher"), "answer questions")
    require_sender(who("student"), "send messages")
    with pytest.raises(PermissionDenied, match="cannot send messages"):
        require_sender(who("observer"), "send messages")


def test_board_writers() -> None:
    require_board_writer(who("teacher"), students_allowed=False)
    require_board_writer(who("student"), students_allowed=True)
    with pytest.raises(PermissionDenied, match="not opened the board"):
        require_board_writer(who("student"), students_allowed=False)
    with pytest.raises(PermissionDenied, match="cannot draw"):
        require_board_writer(who("observer"), students_allowed=True)


def test_the_system_actor_passes_staff_checks_and_is_never_a_token_role() -> None:
    system = Identity.system("s1", "auto-hint", name="automatic hint")
    require_staff(system, "send hints")
    assert system.is_system and system.is_staff and system.name == "automatic hint"
    assert "system" not in ROLES
    assert not who("admin").is_system
