"""Every error loxo raises on purpose.

::

    LoxoError                       code "error", 500
    ├── InvalidArgument             code "invalid_argument", 400
    │   ├── InvalidName             code "invalid_name", 400
    │   ├── InvalidPath             code "invalid_path", 400
    │   ├── InvalidAddress          code "invalid_address", 400
    │   └── SpecError               code "invalid_spec", 400
    ├── NotFound                    code "not_found", 404
    │   ├── RepoNotFound            code "repo_not_found", 404
    │   ├── BranchNotFound          code "branch_not_found", 404
    │   ├── CommitNotFound          code "commit_not_found", 404
    │   ├── FileNotFound            code "file_not_found", 404
    │   ├── PipelineNotFound        code "pipeline_not_found", 404
    │   ├── JobNotFound             code "job_not_found", 404
    │   └── DatumNotFound           code "datum_not_found", 404
    ├── Unauthenticated             code "unauthenticated", 401
    ├── PermissionDenied            code "permission_denied", 403
    ├── AlreadyExists               code "already_exists", 409
    ├── Conflict                    code "conflict", 409
    │   ├── CommitFinished          code "commit_finished", 409
    │   ├── CommitOpen              code "commit_open", 409
    │   ├── PathConflict            code "path_conflict", 409
    │   └── InUse                   code "in_use", 409
    ├── SourceError                 code "source_error", 400
    ├── DatabaseError               code "database_error", 503
    ├── ServerUnavailable           code "unavailable", 503
    ├── StorageUnavailable          code "storage_unavailable", 503
    └── Corrupt                     code "corrupt", 500
        └── ObjectMissing           code "object_missing", 500

Each class carries a stable ``code`` and an HTTP ``status``. The server maps codes to
responses once, the remote client maps codes back to these classes, and the CLI maps
every ``LoxoError`` to one line on stderr and exit code 1.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing's: user code imports this (via loxo.batch) per process
if TYPE_CHECKING:
    from typing import ClassVar


class LoxoError(Exception):
    """Root of every error loxo raises on purpose."""

    code: ClassVar[str] = "error"
    status: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(LoxoError):
    """The caller passed something loxo cannot accept."""

    code = "invalid_argument"
    status = 400


class InvalidName(InvalidArgument):
    """A repo, branch or pipeline name breaks the naming rules."""

    code = "invalid_name"


class InvalidPath(InvalidArgument):
    """A file path is empty, escapes the root, or holds forbidden characters."""

    code = "invalid_path"


class InvalidAddress(InvalidArgument):
    """An address such as ``repo@branch^2:/path`` cannot be parsed."""

    code = "invalid_address"


class SpecError(InvalidArgument):
    """A pipeline spec cannot be read or breaks the rules.

    ``message`` lists every problem found, one per line as ``field.path: what is wrong``;
    ``problems`` holds the same lines (empty when the error came back from a server).
    """

    code = "invalid_spec"

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems


class NotFound(LoxoError):
    """Something named does not exist."""

    code = "not_found"
    status = 404


class RepoNotFound(NotFound):
    code = "repo_not_found"


class BranchNotFound(NotFound):
    code = "branch_not_found"


class CommitNotFound(NotFound):
    code = "commit_not_found"


class FileNotFound(NotFound):
    code = "file_not_found"


class PipelineNotFound(NotFound):
    code = "pipeline_not_found"


class JobNotFound(NotFound):
    code = "job_not_found"


class DatumNotFound(NotFound):
    code = "datum_not_found"


class Unauthenticated(LoxoError):
    """Auth is active and the request carries no token, or one the server does not know
    (revoked or expired)."""

    code = "unauthenticated"
    status = 401


class PermissionDenied(LoxoError):
    """The caller is known but lacks the role the request needs."""

    code = "permission_denied"
    status = 403


class AlreadyExists(LoxoError):
    """Creating something whose name is taken."""

    code = "already_exists"
    status = 409


class Conflict(LoxoError):
    """The request is well formed but clashes with the current state."""

    code = "conflict"
    status = 409


class CommitFinished(Conflict):
    """Writing to a commit that is already finished."""

    code = "commit_finished"


class CommitOpen(Conflict):
    """An operation that needs a finished commit met an open one, or vice versa."""

    code = "commit_open"


class PathConflict(Conflict):
    """A file where a directory is, or a directory where a file is."""

    code = "path_conflict"


class InUse(Conflict):
    """Deleting something that something else still depends on."""

    code = "in_use"


class SourceError(LoxoError):
    """A local file, URL or stream given as the source of a put could not be read."""

    code = "source_error"
    status = 400


class DatabaseError(LoxoError):
    """The metadata database failed (unreachable, locked too long, wrong schema)."""

    code = "database_error"
    status = 503


class ServerUnavailable(LoxoError):
    """The loxo server cannot be reached, or answered with something that is not loxo's."""

    code = "unavailable"
    status = 503


class StorageUnavailable(LoxoError):
    """The object store cannot be reached or refuses loxo's credentials."""

    code = "storage_unavailable"
    status = 503


class Corrupt(LoxoError):
    """Stored data does not match its hash, or a reference points at nothing."""

    code = "corrupt"
    status = 500


class ObjectMissing(Corrupt):
    """An object the metadata refers to is not in the object store."""

    code = "object_missing"


def all_error_classes() -> list[type[LoxoError]]:
    """Every class in the tree, root first; used to map codes back to classes."""
    found: list[type[LoxoError]] = []
    pending: list[type[LoxoError]] = [LoxoError]
    while pending:
        cls = pending.pop(0)
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found
