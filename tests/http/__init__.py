"""tests.http: the app in process (httpx over ASGI) on a real database."""
