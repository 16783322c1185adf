"""REST endpoints for deployed process versions: list, history, files, diff, designers.

Reading versions needs any bearer token; changing processes needs the
process-designer role (``app/designer/api.py``); granting that role needs an admin.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app.common.api_doc import download_responses
from app.common.downloads import file_download
from app.common.endpoints import PEOPLE_ONLY, ApiBlueprint, Beside, current_api_user
from app.common.errors import NotFound
from app.org.queries import user_by_username

from . import designers as designer_ops
from .queries import all_specs
from .schemas import (
    DesignerChangeOut,
    DesignerPage,
    DiffArgs,
    DiffOut,
    SpecOut,
    VersionDetailOut,
    VersionPage,
)
from .versions import diff_versions, get_version, history

blp = ApiBlueprint("processes", __name__, url_prefix="/api/v1/processes",
                description="Process versions, drafts, test runs and migrations")


@blp.route("")
class Specs(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.response(200, SpecOut(many=True))
    def get(self) -> Any:
        """Every deployed version, oldest first; new cases take the latest of each process."""
        return all_specs()


@blp.route("/<process_key>/versions")
class Versions(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.response(200, VersionPage)
    def get(self, process_key: str) -> Any:
        """History: every version, newest first, with who deployed it, the note, and running cases."""
        return {"items": history(process_key)}


@blp.route("/<process_key>/versions/<int:version>")
class Version(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.response(200, VersionDetailOut)
    def get(self, process_key: str, version: int) -> Any:
        """One version: files, forms, user tasks and every element with its properties."""
        return get_version(process_key, version)


@blp.route("/<process_key>/versions/<int:version>/files/<name>")
class VersionFile(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @download_responses(blp)
    def get(self, process_key: str, version: int, name: str) -> Any:
        """Download one .bpmn/.dmn file of a version."""
        spec = get_version(process_key, version)
        if name not in spec.files:
            raise NotFound(f"version {version} has no file {name!r}")
        return file_download(spec.files[name], name)


@blp.route("/<process_key>/diff")
class Diff(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.arguments(DiffArgs, location="query")
    @blp.response(200, DiffOut)
    def get(self, args: dict[str, int], process_key: str) -> Any:
        """Elements and forms added, removed and changed between two versions (?from=1&to=2)."""
        return diff_versions(get_version(process_key, args["from_version"]),
                             get_version(process_key, args["to_version"]))


@blp.route("/designers")
class Designers(MethodView):
    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.response(200, DesignerPage)
    def get(self) -> Any:
        """Users holding the process-designer role (admins only)."""
        designer_ops.require_admin(current_api_user())
        return {"items": designer_ops.designers()}


@blp.route("/designers/<username>")
class Designer(MethodView):
    def _user(self, username: str) -> Any:
        user = user_by_username(username)
        if user is None:
            raise NotFound(f"no user {username!r}")
        return user

    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.response(200, DesignerChangeOut)
    def put(self, username: str) -> Any:
        """Grant the process-designer role (admins only; audited)."""
        user = self._user(username)
        return Beside(user, process_designer=True, changed=designer_ops.set_designer(user, True, current_api_user()))

    @blp.endpoint(scope=PEOPLE_ONLY)
    @blp.response(200, DesignerChangeOut)
    def delete(self, username: str) -> Any:
        """Revoke the process-designer role (admins only; audited)."""
        user = self._user(username)
        return Beside(user, process_designer=False,
                      changed=designer_ops.set_designer(user, False, current_api_user()))


from app.designer import api as _designer_api  # noqa: E402,F401  (drafts, test runs, migrations: routes here)
