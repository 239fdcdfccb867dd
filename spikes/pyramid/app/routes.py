"""URL dispatch. `{id}` is any segment: views parse it, so a bad token is a 401 before a 404."""

from pyramid.config import Configurator


def includeme(config: Configurator) -> None:
    config.add_route("health", "/health")
    config.add_route("register", "/auth/register")
    config.add_route("login", "/auth/login")
    config.add_route("me", "/me")
    config.add_route("items", "/items")
    config.add_route("item", "/items/{id}")
