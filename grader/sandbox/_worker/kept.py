"""The class's calls, kept by the supervisor between submissions.

The exercise's calls and their argument arrays are the same for every submission of a class: the
grader sends them once with a token (a run request's ``shared``: ``{"id", "blobs": how many of
the leading blobs are the set's, "store": keep them}``) and then the token alone. Both ends keep
the last SHARED_CALLS sets and drop the oldest first, so every token the grader sends alone is
one kept here. The commands for the children made from a kept set are kept with it (Batches)."""

from __future__ import annotations

from .framing import SHARED_CALLS, ProtocolError


class KeptCalls:
    def __init__(self):
        self.sets: dict[int, tuple[list, list, dict]] = {}  # token -> (calls, their blobs, commands), oldest first

    def expand(self, req: dict, blobs: list) -> tuple[dict, list, dict | None]:
        """A run request with its calls and their blobs in full: kept from an earlier request
        (``shared`` without ``store``), or kept now for the next ones; and the commands made from
        its kept set (None: its calls are not a kept set's). ProtocolError for a token not kept
        here or a malformed one."""
        shared = req.get("shared")
        if shared is None:
            return req, blobs, None
        token = shared.get("id") if isinstance(shared, dict) else None
        count = shared.get("blobs") if isinstance(shared, dict) else None
        if type(token) is not int or type(count) is not int or count < 0:
            raise ProtocolError("malformed shared calls")
        if shared.get("store") is True:
            if count > len(blobs) or not isinstance(req.get("calls"), list):
                raise ProtocolError("malformed shared calls")
            self.sets.pop(token, None)
            self.sets[token] = (req["calls"], blobs[:count], {})
            while len(self.sets) > SHARED_CALLS:  # the oldest first, as the grader drops them
                del self.sets[next(iter(self.sets))]
            return req, blobs, self.sets[token][2]
        kept = self.sets.get(token)
        if kept is None or len(kept[1]) != count:
            raise ProtocolError("shared calls not kept here")
        return dict(req, calls=kept[0]), kept[1] + blobs, kept[2]
