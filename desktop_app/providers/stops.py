"""Stop strings applied to streamed text on our side, for APIs that take only a few of them."""

from __future__ import annotations


class StopCutter:
    """Cuts streamed text at the earliest stop string; text that could be the start of a stop is
    held back until the next chunk settles it, so nothing past a stop is ever streamed. Chunks pass
    through whole wherever possible: one chunk is counted as one token when a server sends no usage."""

    def __init__(self, stops: list[str] | tuple[str, ...]) -> None:
        self.stops = [s for s in stops if s]
        self.stopped = False
        self._held: list[str] = []

    def feed(self, text: str) -> list[str]:
        """The pieces now safe to stream; after a stop is hit, none."""
        if self.stopped:
            return []
        if not self.stops:
            return [text] if text else []
        if text:
            self._held.append(text)
        held = "".join(self._held)
        cut = min((i for i in (held.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            self.stopped = True
            pieces = self._take(cut, split=True)
            self._held = []
            return pieces
        # The longest tail of the held text that a stop string begins with stays held.
        tail = max((n for s in self.stops for n in range(min(len(s) - 1, len(held)), 0, -1)
                    if held.endswith(s[:n])), default=0)
        return self._take(len(held) - tail, split=False)

    def flush(self) -> list[str]:
        """At the end of the answer, whatever is held was no stop after all."""
        pieces, self._held = self._held, []
        return [] if self.stopped else pieces

    def _take(self, length: int, split: bool) -> list[str]:
        """The held pieces within the first `length` characters; `split` cuts the one that crosses it."""
        out: list[str] = []
        while self._held and length > 0:
            piece = self._held[0]
            if len(piece) > length:
                if split:
                    out.append(piece[:length])
                break
            out.append(self._held.pop(0))
            length -= len(piece)
        return out
