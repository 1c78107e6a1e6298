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


@bp.get("/login")
def login():
    return render_template("login.html")


@bp.get("/admin")
def admin():
    return render_template("admin.html")


@bp.get("/dashboard")
def dashboard():
    return render_template("dashboard.html")


@bp.get("/journal")
def journal():
    return render_template("journal.html")
