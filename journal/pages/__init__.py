"""Server-rendered pages (Jinja shells; plain JavaScript loads data from the API and the stream)."""

from flask import Blueprint, redirect, render_template, url_for

bp = Blueprint("pages", __name__)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


@bp.after_request
def security_headers(response):
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("/")
def index():
    return redirect(url_for("pages.login"))


def page(name: str):
    """A page shell; its script loads the data from the API."""
    return lambda: render_template(f"{name}.html")


for name in ("login", "admin", "dashboard", "journal"):
    bp.add_url_rule(f"/{name}", name, page(name))
# The browsable API (Swagger UI on /api/openapi.json), under the same CSP as the dashboards.
bp.add_url_rule("/api/docs", "api_docs", page("api_docs"))
