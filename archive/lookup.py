"""Finding a document by its id or the first characters of it (what `hra show` and `hra dups`
take). Errors for the user are `HraError`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from archive.errors import HraError

if TYPE_CHECKING:
    from archive.store import Store


def resolve_id(store: Store, given: str) -> str:
    """The id of the one document whose id is ``given`` or starts with it."""
    did = given.strip()
    if not did:
        raise HraError("the document id is empty: give an id or its first characters "
                       "(see `hra list`)", 2)
    if store.get(did):
        return did
    found = store.find_ids(did)
    if len(found) == 1:
        return found[0]
    if not found:
        raise HraError(f"no document with id {did!r} (see `hra list`)")
    raise HraError(f"id {did!r} is ambiguous: {', '.join(found)}")
