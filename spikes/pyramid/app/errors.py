"""The contract's expected failures; views/errors.py renders them (and Pyramid's own) as JSON."""


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.headers = status, code, detail, headers or {}


class NotFound(ApiError):
    def __init__(self, detail: str = "not found") -> None:
        super().__init__(404, "not_found", detail)
