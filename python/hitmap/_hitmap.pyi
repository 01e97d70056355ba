"""Type stubs of the compiled module (checked with mypy.stubtest)."""

import os
from typing import Callable, Dict, List, Optional, Tuple, Union, final

__all__ = [
    "Engine",
    "HitmapError",
    "SegmentError",
    "RequestError",
    "DeadlineError",
    "UnknownSiteError",
    "StoreError",
    "IntakeError",
    "__version__",
    "sample_ndjson",
]

__version__: str

def sample_ndjson(days: int = 30, visitors: int = 2000, seed: int = 42, start: str = "2025-01-01") -> bytes: ...

class HitmapError(Exception): ...
class SegmentError(HitmapError): ...
class RequestError(HitmapError): ...
class DeadlineError(RequestError): ...
class UnknownSiteError(HitmapError): ...
class StoreError(HitmapError): ...
class IntakeError(HitmapError): ...

@final
class Engine:
    def __new__(cls, path: Union[str, os.PathLike[str]]) -> Engine: ...
    @staticmethod
    def in_memory() -> Engine: ...
    @staticmethod
    def open_read_only(path: Union[str, os.PathLike[str]]) -> Engine: ...
    def add_site(
        self,
        site: int,
        timezone: str = "UTC",
        visit_timeout: int = 1800,
        hosts: List[str] = ...,
        sections: Dict[str, List[str]] = ...,
        dimensions: List[str] = ...,
    ) -> None: ...
    def ingest_ndjson_stream(
        self,
        source: object,
        progress: Optional[Callable[[int], object]] = None,
        batch_id: Optional[str] = None,
        force: bool = False,
    ) -> Tuple[int, List[Tuple[int, str]], int, int, int]: ...
    def site_timezone(self, site: int) -> str: ...
    def api_json(self, query: str, timeout: Optional[float] = None) -> str: ...
    def forget_visitor(self, site: int, visitor: str) -> int: ...
    def seal(self) -> int: ...
    def site_ids(self) -> List[int]: ...
    def import_matomo(
        self,
        query: Callable[[str], object],
        sites: Optional[List[int]] = None,
        from_day: Optional[str] = None,
        to_day: Optional[str] = None,
        keep_visits: bool = False,
        prefix: str = ...,
        batch_rows: int = 100000,
        settle_secs: int = 60,
        progress: Optional[Callable[[int, int, int, int], object]] = None,
    ) -> List[Tuple[int, int, int, Dict[str, int], Dict[str, int], int, bool]]: ...
    def cursor(self, name: str) -> Optional[str]: ...
    def ingest_log(self, paths: List[str], options: List[Tuple[str, str]]) -> str: ...
