"""A corpus of malformed requests through the inbox (the sensor, via ``build_sensor_context``), the
CLI and the launchpad (``execute_in_process``): every one refused with a reason naming the field,
the sensor never raises or hangs, one bad entry never blocks a good one, nothing is ever sent to
Intercom for a refused request, and nothing outside the data root is written, moved or chmod-ed."""

from __future__ import annotations

import json
import os
import re
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from intercom_pipeline import storage
from intercom_pipeline.cli import main as cli
from intercom_pipeline.defs import privacy as privacy_defs
from intercom_pipeline.defs import resources
from intercom_pipeline.defs.common import LocationSettings
from intercom_pipeline.privacy import sealed
from intercom_pipeline.privacy.requests import PrivacyRequest

pytestmark = pytest.mark.chaos

E = "jane.doe@example.com"
REASON = re.compile(r"^[<A-Za-z_][\w.<> -]*: \S")  # "field: what was expected"


def req(**fields: Any) -> dict[str, Any]:
    return {"type": "deletion", "email": E, **fields}


def js(value: Any) -> str:
    return json.dumps(value)


# -- the inbox corpus: (file name, content) ----------------------------------------------------
INBOX_FILES: list[tuple[str, str | bytes]] = [
    ("empty.json", ""), ("brace.json", "{"), ("list.json", "[]"), ("null.json", "null"), ("number.json", "1"),
    ("string.json", '"access"'), ("unquoted.json", "{type: access}"), ("trailing.json", '{"type": "access",}'),
    ("nan.json", '{"type": "deletion", "email": "' + E + '", "options": {"dry_run": NaN}}'),
    ("bom.json", "\ufeff" + js(req())), ("latin1.json", b'{"type": "deletion", "email": "j\xe9@example.com"}'),
    ("deep.json", "[" * 100_000 + "]" * 100_000), ("big.json", js(req(request_id="big")) + " " * 70_000),
    ("no_type.json", js({"email": E})), ("bad_type.json", js(req(type="erase"))), ("int_type.json", js(req(type=1))),
    ("null_type.json", js(req(type=None))), ("list_type.json", js(req(type=["access"]))),
    ("upper_type.json", js(req(type="ACCESS"))),
    ("dup_type.json", '{"type": "deletion", "type": "access", "email": "' + E + '"}'),
    ("dup_email.json", '{"type": "deletion", "email": "a@example.com", "email": "' + E + '"}'),
    ("dup_nested.json", '{"type": "deletion", "email": "' + E + '", "options": {"dry_run": true, "dry_run": false}}'),
    ("no_email.json", js({"type": "deletion"})), ("identifier_str.json", js({"type": "access", "identifier": E})),
    ("identifier_phone.json", js({"type": "access", "identifier": {"category": "phone", "value": "1"}})),
    ("identifier_novalue.json", js({"type": "access", "identifier": {"category": "email"}})),
    ("identifier_extra.json", js({"type": "access", "identifier": {"category": "email", "value": E, "x": 1}})),
    ("both.json", js({"type": "access", "email": E, "identifier": {"category": "email", "value": E}})),
    ("email_empty.json", js(req(email=""))), ("email_plain.json", js(req(email="not-an-email"))),
    ("email_double_at.json", js(req(email="a@@b.com"))), ("email_space.json", js(req(email="a b@c.com"))),
    ("email_nodot.json", js(req(email="a@b"))), ("email_newline.json", js(req(email="a\n@b.com"))),
    ("email_nul.json", js(req(email=E + "\u0000"))), ("email_long.json", js(req(email="a" * 250 + "@b.com"))),
    ("email_int.json", js(req(email=5))), ("email_list.json", js(req(email=[E]))),
    ("email_bidi.json", js(req(email="jane\u202e@example.com"))),
    ("dryrun_typo.json", js(req(options={"dryrun": True}))), ("dry_run_str.json", js(req(options={"dry_run": "yes"}))),
    ("dry_run_int.json", js(req(options={"dry_run": 1}))),
    ("dry_run_access.json", js({"type": "access", "email": E, "options": {"dry_run": True}})),
    ("contact_ids_access.json", js({"type": "access", "email": E, "options": {"contact_ids": ["abc"]}})),
    ("contact_ids_str.json", js(req(options={"contact_ids": "abc"}))),
    ("contact_ids_path.json", js(req(options={"contact_ids": ["../x"]}))),
    ("objects_deletion.json", js(req(options={"objects": {"notes": True}}))),
    ("objects_unknown.json", js({"type": "access", "email": E, "options": {"objects": {"invoices": True}}})),
    ("objects_fields_str.json", js({"type": "access", "email": E, "options": {"objects": {"notes": {"fields": "body"}}}})),
    ("objects_key.json", js({"type": "access", "email": E, "options": {"objects": {"notes": {"exclud": []}}}})),
    ("objects_include_str.json", js({"type": "access", "email": E, "options": {"objects": {"notes": {"include": "y"}}}})),
    ("objects_list.json", js({"type": "access", "email": E, "options": {"objects": ["notes"]}})),
    ("options_list.json", js(req(options=["dry_run"]))), ("options_str.json", js(req(options="dry_run"))),
    ("id_path.json", js(req(request_id="../etc"))), ("id_long.json", js(req(request_id="a" * 81))),
    ("id_int.json", js(req(request_id=5))), ("id_space.json", js(req(request_id="a b"))),
    ("id_dash.json", js(req(request_id="-start"))), ("id_email.json", js(req(request_id=E))),
    ("received_words.json", js(req(received_at="yesterday"))), ("received_naive.json", js(req(received_at="2026-01-01T00:00:00"))),
    ("received_int.json", js(req(received_at=12345))),
    ("ws_space.json", js(req(workspace="bad ws"))), ("ws_long.json", js(req(workspace="a" * 65))),
    ("ws_int.json", js(req(workspace=5))), ("ws_newline.json", js(req(workspace="x\ny"))),
    ("ws_unknown.json", js(req(workspace="nosuchworkspace"))),
    ("unknown_top.json", js(req(surprise=1))), ("capital_key.json", js({"Type": "deletion", "email": E})),
    ("key_is_email.json", js(req(**{E: 1}))),
    (f"{E}.json", "{broken"), ("UPPER.JSON", "{broken"), ("notes.txt", js(req())), ("noext", js(req())),
]
SPECIAL = ["dir.json", "fifo.json", "zero.json", "outside_link.json", "inner_link.json", "dangling.json"]


def make_special(folder: Path, outside: Path) -> None:
    (folder / "dir.json").mkdir()
    (folder / "dir.json" / "inner.json").write_text(js(req()))
    os.mkfifo(folder / "fifo.json")
    (folder / "zero.json").symlink_to("/dev/zero")
    (folder / "outside_link.json").symlink_to(outside)
    (folder / "inner_link.json").symlink_to(folder / "valid.json")
    (folder / "dangling.json").symlink_to(folder / "missing")


def snapshot(root: Path, skip: Path) -> dict[str, tuple[int, int, bytes]]:
    """Mode, mtime and bytes of every regular file under ``root`` except the data root."""
    seen = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if Path(folder, d) != skip]
        for name in files:
            path = Path(folder, name)
            if path.is_file() and not path.is_symlink():
                info = path.stat()
                seen[str(path)] = (stat.S_IMODE(info.st_mode), info.st_mtime_ns, path.read_bytes())
    return seen


def within(seconds: float, action: Callable[[], Any]) -> Any:
    """Run ``action`` in a thread; fail (instead of hanging the suite) if it does not return."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = action()
        except BaseException as exc:  # noqa: BLE001 - re-raised below, in the test's thread
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the sensor hung"
    if "error" in box:
        raise box["error"]
    return box["value"]


def test_the_inbox_refuses_every_malformed_entry_and_still_runs_the_good_one(configured_fake, data_root, tmp_path):
    outside = tmp_path / "outside" / "request.json"
    outside.parent.mkdir()
    outside.write_text(js(req(request_id="outside")))
    os.chmod(outside, 0o644)
    folder = data_root / "privacy" / "inbox"
    folder.mkdir(parents=True)
    for name, content in INBOX_FILES:
        (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    (folder / "valid.json").write_text(js(req(request_id="the_good_one")))
    make_special(folder, outside)
    for entry in folder.iterdir():
        os.utime(entry, (time.time() - 60, time.time() - 60), follow_symlinks=False)
    before = snapshot(tmp_path, data_root)
    defs = dg.Definitions.merge(resources.build(LocationSettings.from_env()), privacy_defs.build(LocationSettings.from_env()))

    with dg.instance_for_test() as instance:
        result = within(120, lambda: privacy_defs.inbox_sensor()(
            dg.build_sensor_context(instance=instance, resources=defs.resources)))

    assert [r.run_key for r in result.run_requests] == ["the_good_one"]
    records = [storage.read_json(p) for p in (data_root / "privacy" / "rejected").glob("*.json")]
    assert len(INBOX_FILES) + len(SPECIAL) >= 80
    assert len(records) == len(INBOX_FILES) + len(SPECIAL)  # 100 % refused, each one kept
    for record in records:
        assert REASON.match(record["reason"]), record
        assert "@" not in record["reason"]
    assert not any("jane" in p.name for p in (data_root / "privacy" / "rejected").iterdir())
    assert list(folder.iterdir()) == []
    assert snapshot(tmp_path, data_root) == before  # nothing outside the data root touched
    assert configured_fake.calls("POST", "/contacts/search") == 0
    assert configured_fake.calls("DELETE") == 0


CLI_CASES = [
    ["delete", "--email", ""], ["delete", "--email", "nope"], ["delete", "--email", "a@@b.com"],
    ["delete", "--email", "a b@c.com"], ["delete", "--email", "a\n@b.com"], ["access", "--email", "x" * 300 + "@b.com"],
    ["access", "--email", E, "--include", "invoices"], ["delete", "--email", E, "--request-id", "../etc"],
    ["delete", "--email", E, "--request-id", "a" * 90], ["delete", "--email", E, "--workspace", "bad ws"],
    ["delete", "--email", E, "--workspace", "nosuchworkspace"], ["delete", "--email", E, "--contact-id", "../x"],
    ["access", "--email", E, "--request-id", "a b"], ["delete", "--email", E + "\u0000"],
]


@pytest.mark.parametrize("argv", CLI_CASES, ids=range(len(CLI_CASES)))
def test_the_cli_refuses_with_a_reason_and_exit_2(configured_fake, data_root, capsys, argv):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "Traceback" not in err
    assert configured_fake.calls("POST", "/contacts/search") == 0
    assert configured_fake.calls("DELETE") == 0


LAUNCHPAD_UNKNOWN = [{"dryrun": True}, {"email": E}, {"options": {"dry_run": True}}, {"dry_run": True},
                     {"contacts": {"include": True}}]
LAUNCHPAD_BOUNDS = [({"batch_size": -5}, "batch_size"), ({"batch_size": 0}, "batch_size"),
                    ({"batch_size": 1001}, "batch_size"), ({"source": "evil\nchannel"}, "source"),
                    ({"source": ""}, "source"), ({"source": "UPPER"}, "source"), ({"source": "x" * 33}, "source"),
                    ({"request_id": "../x"}, "request_id"), ({"request_id": ""}, "request_id"),
                    ({"request_id": "not_sealed"}, "request_id")]


def _launch(config: dict[str, Any]) -> dg.ExecuteInProcessResult:
    defs = dg.Definitions.merge(resources.build(LocationSettings.from_env()), privacy_defs.build(LocationSettings.from_env()))
    with dg.instance_for_test() as instance:
        return defs.resolve_job_def("deletion_job").execute_in_process(
            run_config={"ops": {"plan_deletion_request": {"config": config}}}, instance=instance, raise_on_error=False)


@pytest.mark.parametrize("extra", LAUNCHPAD_UNKNOWN, ids=range(len(LAUNCHPAD_UNKNOWN)))
def test_the_launchpad_refuses_unknown_keys_naming_them(configured_fake, data_root, extra):
    with pytest.raises(dg.DagsterInvalidConfigError, match=next(iter(extra))):
        _launch({"request_id": "r", **extra})
    assert configured_fake.calls() == 0


@pytest.mark.parametrize(("change", "field"), LAUNCHPAD_BOUNDS, ids=range(len(LAUNCHPAD_BOUNDS)))
def test_the_launchpad_refuses_out_of_bounds_naming_the_field(configured_fake, data_root, change, field):
    sealed.seal(data_root, PrivacyRequest.from_dict({**req(), "request_id": "sealed_one"}), "default", fake=False)
    result = _launch({"request_id": "sealed_one", **change})
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.event_specific_data.user_failure_data.description
    assert re.match(rf"Invalid (run config|request): {field}: ", message), message
    assert configured_fake.calls() == 0


def test_the_corpus_has_at_least_90_cases():
    total = len(INBOX_FILES) + len(SPECIAL) + len(CLI_CASES) + len(LAUNCHPAD_UNKNOWN) + len(LAUNCHPAD_BOUNDS)
    assert total >= 90
