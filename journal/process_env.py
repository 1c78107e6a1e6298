"""The environment each kind of child process gets: its own roles' credentials; signing keys for web only."""

from collections.abc import Mapping

from journal.config import PROCESS_ROLES, ROLES, WEB_SECRETS, role_url, role_url_var

# What no child inherits from its parent: the owner's URL (DATABASE_URL), every role's URL and
# password (each child gets its own roles' URLs back below), and, outside web, the signing keys.
ROLE_PASSWORDS = tuple(password for _, password in ROLES.values())
WEB_KINDS = ("web",)


def withheld(name: str, kind: str) -> bool:
    """Whether the variable `name` of the parent's environment must not reach a `kind` child."""
    if name.startswith("DATABASE_URL") or name in ROLE_PASSWORDS:
        return True
    return name in WEB_SECRETS and kind not in WEB_KINDS


def child_environ(kind: str, environ: Mapping[str, str], owner_url: str | None = None) -> dict[str, str]:
    """`environ` without what a `kind` process must not hold, plus DATABASE_URL_<ROLE> of each of its
    roles: as given in `environ` (an operator's setting), else derived from `owner_url` and the
    DB_*_PASSWORD settings in `environ`. JOURNAL_DB_ROLE names its default role."""
    roles = PROCESS_ROLES[kind]
    env = {name: value for name, value in environ.items() if not withheld(name, kind)}
    for role in roles:
        given = environ.get(role_url_var(role))
        if not given and not owner_url:
            raise RuntimeError(f"{role_url_var(role)} is not set (or DATABASE_URL to derive it from)")
        env[role_url_var(role)] = given or role_url(owner_url, role, environ.get(ROLES[role][1]))
    env["JOURNAL_DB_ROLE"] = roles[0]
    return env
