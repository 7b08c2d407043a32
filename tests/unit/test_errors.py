"""The exception tree: one root, stable codes, HTTP statuses (mapped back by code only)."""

from __future__ import annotations

import pytest

from loxo import errors
from loxo.errors import LoxoError, all_error_classes


def test_every_error_class_is_listed_once_root_first() -> None:
    classes = all_error_classes()
    assert classes[0] is LoxoError
    assert len(classes) == len(set(classes))
    defined = {obj for obj in vars(errors).values()
               if isinstance(obj, type) and issubclass(obj, LoxoError)}
    assert set(classes) == defined


def test_codes_are_unique_so_they_map_back_to_one_class() -> None:
    codes = [cls.code for cls in all_error_classes()]
    assert len(codes) == len(set(codes))
    assert all(code and code == code.lower() and " " not in code for code in codes)


@pytest.mark.parametrize(
    ("cls", "code", "status"),
    [
        (errors.InvalidName, "invalid_name", 400),
        (errors.InvalidPath, "invalid_path", 400),
        (errors.InvalidAddress, "invalid_address", 400),
        (errors.RepoNotFound, "repo_not_found", 404),
        (errors.FileNotFound, "file_not_found", 404),
        (errors.AlreadyExists, "already_exists", 409),
        (errors.CommitFinished, "commit_finished", 409),
        (errors.CommitOpen, "commit_open", 409),
        (errors.PathConflict, "path_conflict", 409),
        (errors.SourceError, "source_error", 400),
        (errors.Corrupt, "corrupt", 500),
        (errors.ObjectMissing, "object_missing", 500),
    ],
)
def test_stable_codes_and_statuses(cls: type[LoxoError], code: str, status: int) -> None:
    assert (cls.code, cls.status) == (code, status)
    err = cls("what happened")
    assert err.message == "what happened"
    assert str(err) == "what happened"


def test_subclasses_inherit_their_family_status() -> None:
    for cls in all_error_classes():
        for parent in cls.__mro__[1:]:
            if parent is LoxoError:
                break
            if issubclass(parent, LoxoError) and parent is not LoxoError:
                assert cls.status == parent.status, (cls, parent)
                break
