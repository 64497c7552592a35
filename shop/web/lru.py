"""A bounded least-recently-used map, safe across threads. Each worker keeps two: rendered
public pages (shop.web.pagecache) and catalogue listings (shop.catalogue.search)."""

from collections import OrderedDict
from collections.abc import Callable, Hashable
from threading import Lock
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BoundedLRU(Generic[K, V]):
    """At most ``limit`` in total ``weight`` (one per entry unless told otherwise); the least
    recently used entries go first, and an entry heavier than the whole limit is not kept."""

    def __init__(self, limit: int, weight: Callable[[V], int] = lambda _value: 1):
        self.limit = limit
        self._weight = weight
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._held = 0
        self._lock = Lock()

    def get(self, key: K) -> V | None:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: K, value: V) -> None:
        weight = self._weight(value)
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._held -= self._weight(old)
            if weight > self.limit:
                return
            self._entries[key] = value
            self._held += weight
            while self._held > self.limit:
                _, evicted = self._entries.popitem(last=False)
                self._held -= self._weight(evicted)

    def __len__(self) -> int:
        return len(self._entries)
