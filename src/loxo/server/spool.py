"""Files of an uploaded tar stream, held until the put that stores them ends.

The core reads a put's sources in parallel, so a sequential stream cannot be handed to it
as it arrives: small members stay in memory (up to a bound), the rest go to temporary
files, which keeps memory flat whatever the upload's size.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO

from loxo.client.sources import Spool
from loxo.pfs import Source

SMALL = 256 << 10  # members up to this size are kept in memory ...
IN_MEMORY = 64 << 20  # ... until they add up to this much


@contextmanager
def spooled_sources(members: Iterable[tuple[str, int, IO[bytes]]]) -> Iterator[list[Source]]:
    held = 0
    sources: list[Source] = []
    with Spool() as spool:
        for path, _size, content in members:
            head = content.read(SMALL + 1)
            if len(head) <= SMALL and held + len(head) <= IN_MEMORY:
                held += len(head)
                sources.append(Source(path, data=head))
                continue
            target = spool.path()
            with open(target, "wb") as out:
                out.write(head)
                shutil.copyfileobj(content, out, 1 << 20)
            sources.append(Source(path, local=target))
        yield sources
