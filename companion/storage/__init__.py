"""Persistence: the session file (see ``docs/session-file.md``)."""

from companion.storage.session_file import (
    FORMAT_VERSION,
    SUFFIX,
    LoadReport,
    SessionWriter,
    check_writable_session_path,
    load_session,
    load_session_with_report,
    write_session,
)

__all__ = [
    "FORMAT_VERSION",
    "SUFFIX",
    "LoadReport",
    "SessionWriter",
    "check_writable_session_path",
    "load_session",
    "load_session_with_report",
    "write_session",
]
