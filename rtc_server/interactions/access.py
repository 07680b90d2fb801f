"""Who may do what with live interactions (checked on the server, never trusted from clients).

=================================================== ==========================================
action                                              roles
=================================================== ==========================================
ask/close questions, send hints, resolve help,      staff (teacher, admin)
start/close polls, permit the board, clear it
answer questions, vote, ask for help / raise hand   students
board ops (add, stroke, move, delete)               staff; students once the board is opened
board.sync, interactions.sync                       everyone (observers only receive events)
=================================================== ==========================================
"""

from __future__ import annotations

from signaling.tokens import Identity

from .exceptions import PermissionDenied

__all__ = ["require_board_writer", "require_staff", "require_student"]


def require_staff(who: Identity, action: str) -> None:
    if not who.is_staff:
        raise PermissionDenied(f"only a teacher or admin may {action}; you are {who.role!r}")


def require_student(who: Identity, action: str) -> None:
    if who.role == "observer":
        raise PermissionDenied(f"observers only receive; they cannot {action}")
    if who.role != "student":
        raise PermissionDenied(f"only students {action}; you are {who.role!r}")


def require_board_writer(who: Identity, *, students_allowed: bool) -> None:
    if who.role == "observer":
        raise PermissionDenied("observers only receive; they cannot draw on the board")
    if not who.is_staff and not students_allowed:
        raise PermissionDenied("the teacher has not opened the board to students")
