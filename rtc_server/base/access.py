"""Who may do what: every role check of the server, in one place.

=============================================== ===========================================
rule                                            who passes
=============================================== ===========================================
:func:`require_staff`                           teachers, admins, the system actor
:func:`require_admin`                           admins, the system actor (the API secret)
:func:`require_student`                         students
:func:`require_sender`                          everyone but observers (they only receive)
:func:`require_board_writer`                    staff; students once the teacher opened it
=============================================== ===========================================

Features call these with the action in words; the refusal names the role
found ("only a teacher or admin may end the session; you are 'student'").
"""

from __future__ import annotations

from .exceptions import PermissionDenied
from .identity import Identity

__all__ = ["require_admin", "require_board_writer", "require_sender", "require_staff",
           "require_student"]


def require_staff(who: Identity, action: str) -> None:
    if not who.is_staff:
        raise PermissionDenied(f"only a teacher or admin may {action}; you are {who.role!r}")


def require_admin(who: Identity, action: str) -> None:
    if who.role != "admin" and not who.is_system:
        raise PermissionDenied(f"only an admin may {action}; you are {who.role!r}")


def require_student(who: Identity, action: str) -> None:
    if who.role == "observer":
        raise PermissionDenied(f"observers only receive; they cannot {action}")
    if who.role != "student":
        raise PermissionDenied(f"only students {action}; you are {who.role!r}")


def require_sender(who: Identity, action: str) -> None:
    if who.role == "observer":
        raise PermissionDenied(f"observers only receive; they cannot {action}")


def require_board_writer(who: Identity, *, students_allowed: bool) -> None:
    require_sender(who, "draw on the board")
    if not who.is_staff and not students_allowed:
        raise PermissionDenied("the teacher has not opened the board to students")
