"""Property-based tests of the whole input surface: config overrides, CLI options, checkpoint and IDX files,
in the library and through whole commands.

Properties: bad input is refused with one line that names the field, option or file, and never with
a traceback; nothing is written; values inside a field's declared bounds pass. The default run tries a
bounded number of examples per property; the slow-marked run (CI) tries many more.
"""
import contextlib
import dataclasses
import gzip
import json
import tempfile
import typing
from pathlib import Path
from typing import Iterator, Optional

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from attnxfer_core.cli import build_parser
from attnxfer_core.cli import main as cli_main
from attnxfer_core.config import RunConfig, apply_overrides
from attnxfer_core.config.bounds import BOUNDS
from attnxfer_core.config.validate import validate_config
from attnxfer_core.data.datasets import FASHION_MNIST_FILES
from attnxfer_core.data.idx import read_idx
from attnxfer_core.errors import ConfigError, UserError
from attnxfer_core.experiments.shapes import ShapeChecker
from attnxfer_core.models.weights import read_state_dict

# the default run is derandomized (the same examples every time: CI cannot fail on a new draw); the slow run
# draws new examples each time
FAST = settings(max_examples=40, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
LONG = settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _leaves(cls: type, prefix: str = "") -> list[tuple[str, dataclasses.Field, typing.Any]]:
    """Every settable config field: (dotted key, field, annotated type)."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        target = inner[0] if typing.get_origin(tp) is typing.Union and inner else tp
        if dataclasses.is_dataclass(target):
            out += _leaves(target, f"{prefix}{f.name}.")
        else:
            out.append((f"{prefix}{f.name}", f, tp))
    return out


FIELDS = [leaf for leaf in _leaves(RunConfig) if not leaf[0].startswith("exec.")
          or leaf[0].split(".")[-1] in ("device", "threads", "data_workers", "checkpoint_every_steps",
                                        "stop_after_steps")]
KEYS = [key for key, _, _ in FIELDS]
SPECIAL = ["", "none", "nan", "inf", "-inf", "-1", "0", "1e309", "true", "all", "first:0", "last:-2", "0,0,0",
           "-0", "3.5", "1e-320", "x" * 300, "ümlaut", "1=2;2=1", "a=b", "[1,2]", "()", " 5 ", "\t", "=", "9" * 40]
VALUES = st.one_of(st.sampled_from(SPECIAL), st.integers(-10**12, 10**12).map(str),
                   st.floats(allow_nan=True, allow_infinity=True).map(repr), st.text(max_size=20))
# what the walk can reach that is not a config field: run-level errors that name no field
NO_FIELD = ("data file not found", "Fashion-MNIST directory not found")


def _value_at(cfg, key: str):
    for part in key.split("."):
        cfg = getattr(cfg, part)
    return cfg


def _check_one(key: str, value: str) -> None:
    """Accepted, or refused with one line naming a field; a parsed value outside its field's declared
    bounds is always refused, naming that field."""
    bound = dict((k, f.metadata.get(BOUNDS)) for k, f, _ in FIELDS)[key]
    parsed = None
    try:
        cfg = apply_overrides(RunConfig(), [f"{key}={value}", "exec.runs_root=/nonexistent/never-written"])
        parsed = _value_at(cfg, key)
        outside = bound is not None and any(v is not None and bound.problem(v)
                                            for v in (parsed if isinstance(parsed, tuple) else (parsed,)))
        validate_config(cfg)
        assert not outside, f"{key}={value!r} ({parsed!r}) is outside {bound.describe()} but was accepted"
        ShapeChecker().check(cfg)
    except ConfigError as exc:
        message = str(exc)
        assert "\n" not in message and "Traceback" not in message
        assert exc.field.split(":")[-1].split(".")[0] in {k.split(".")[0] for k in KEYS} | {"seeds"}, message
        if parsed is not None and bound is not None and bound.problem(parsed if not isinstance(parsed, tuple)
                                                                      else (parsed or (0,))[0]):
            assert exc.field == key, message
    except UserError as exc:
        message = str(exc)
        assert "\n" not in message, message
        named = message.split(":")[0].split(" ")[-1]  # "student.patch_size: ..." or "pretraining run x: f: ..."
        assert named in KEYS or named.split(".")[0] in {"student", "teacher", "init", "transfer"} \
            or message.startswith(NO_FIELD), message


@FAST
@given(key=st.sampled_from(KEYS), value=VALUES)
def test_any_override_is_accepted_or_refused_naming_a_field(key, value):
    _check_one(key, value)


@pytest.mark.slow
@LONG
@given(key=st.sampled_from(KEYS), value=VALUES)
def test_any_override_long(key, value):
    _check_one(key, value)


BOUNDED_NUMBERS = [(key, f.metadata[BOUNDS]) for key, f, tp in FIELDS
                   if BOUNDS in f.metadata and not f.metadata[BOUNDS].choices
                   and key not in ("optim.warmup_epochs", "optim.micro_batch")  # bounded by other fields too
                   and not key.startswith(("student.", "teacher.model.", "init.model.", "teacher.pretrain.",
                                           "init.pretrain."))]  # model shapes are also checked together


def _inside(bound, where: float, integer: bool) -> str:
    """A value ``where`` of the way across the bound's interval (a finite stretch of an open-ended one)."""
    step = 1 if integer else 1e-9
    lo = bound.ge if bound.ge is not None else (bound.gt + step if bound.gt is not None else -1e3)
    hi = bound.le if bound.le is not None else (bound.lt - step if bound.lt is not None else lo + 1e3)
    value = lo + (hi - lo) * where
    return str(int(round(value))) if integer else repr(value)


@FAST
@given(choice=st.sampled_from(BOUNDED_NUMBERS), where=st.floats(0.0, 1.0))
def test_values_inside_a_fields_bounds_pass(choice, where):
    key, bound = choice
    integer = "int" in str(dict((k, t) for k, _, t in FIELDS)[key])
    validate_config(apply_overrides(RunConfig(), [f"{key}={_inside(bound, where, integer)}"]))


def test_every_number_field_declares_its_bounds():
    """The bounds are a property of the schema, not a list in the validator."""
    unbounded = [key for key, f, tp in FIELDS if any(t in str(tp) for t in ("int", "float"))
                 and "bool" not in str(tp) and BOUNDS not in f.metadata]
    assert unbounded == [], unbounded


# -- the command line ----------------------------------------------------------------------------------

def _options():
    """(command, option, action) for every option of every command that parses or restricts a value."""
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    out = []
    for name, command in sub.choices.items():
        for action in command._actions:
            if action.option_strings and (action.type is not None or action.choices):
                out.append((name, action.option_strings[-1], action))
    return out


OPTIONS = _options()


def test_every_option_that_takes_a_number_declares_its_bounds():
    loose = [(c, o) for c, o, a in OPTIONS if a.type in (int, float)]
    assert len(OPTIONS) > 30  # the walk finds every command's options (and the fuzzing below tries each)
    assert loose == [], loose


BAD_VALUES = st.one_of(st.integers(-10**9, 0).map(str), st.sampled_from(["nan", "inf", "-inf", "abc", "", "1.5x",
                                                                          "-0.0", "1e400"]),
                       st.text(max_size=12).filter(lambda v: not v.startswith("-")))  # "-x" reads as an option


def _refused(command: str, option: str, value: str, capsys, tmp_path) -> None:
    action = next(a for c, o, a in OPTIONS if (c, o) == (command, option))
    try:
        parsed = action.type(value) if action.type is not None else value
        accepted = not action.choices or parsed in action.choices
    except Exception:
        accepted = False
    assume(not accepted)  # a value the option accepts is not what this property is about
    with pytest.raises(SystemExit) as exit_:
        cli_main([command, option, value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and option in err and "Traceback" not in err, err
    assert list(tmp_path.iterdir()) == []


OPTION_IDS = [(c, o) for c, o, _ in OPTIONS]


@pytest.mark.parametrize("command, option", OPTION_IDS, ids=[f"{c} {o}" for c, o in OPTION_IDS])
@settings(FAST, max_examples=10)
@given(value=BAD_VALUES)
def test_bad_option_values_are_one_line_errors_and_write_nothing(command, option, value, capsys, tmp_path,
                                                                 monkeypatch):
    monkeypatch.chdir(tmp_path)
    _refused(command, option, value, capsys, tmp_path)


@pytest.mark.slow
@settings(LONG, max_examples=100)
@given(choice=st.sampled_from(OPTION_IDS), value=BAD_VALUES)
def test_bad_option_values_long(choice, value, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _refused(*choice, value, capsys, tmp_path)


@pytest.mark.parametrize("args, says", [
    (["submit", "main", "--array-parallelism", "0", "--dry-run"], "--array-parallelism"),
    (["submit", "main", "--mem-gb", "-3", "--dry-run"], "--mem-gb"),
])
def test_dry_runs_refuse_what_submissions_refuse(args, says, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):
        cli_main(args)
    assert says in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_profile_files_are_held_to_the_same_bounds(tmp_path, capsys):
    profile = tmp_path / "p.json"
    profile.write_text('{"mem_gb": -3}')
    assert cli_main(["submit", "main", f"exec.runs_root={tmp_path}/runs", "--profile", str(profile),
                     "--dry-run"]) == 2
    assert "profile.mem_gb: must be >= 1" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


# -- files ---------------------------------------------------------------------------------------------

def _file_refused(path: Path, read) -> None:
    try:
        read(path)
    except UserError as exc:
        message = str(exc)
        assert str(path) in message and "\n" not in message, message
        for internal in ("index out of range", "Traceback", "unpickling", "PytorchStreamReader", "HeaderTooLarge"):
            assert internal not in message, message


@FAST
@given(data=st.binary(max_size=600), suffix=st.sampled_from([".pt", ".pth", ".safetensors", ".bin"]))
def test_random_bytes_as_a_checkpoint(data, suffix, tmp_path):
    path = tmp_path / f"teacher{suffix}"
    path.write_bytes(data)
    _file_refused(path, read_state_dict)


@FAST
@given(data=st.binary(max_size=300), header=st.sampled_from([b"", b"\x00\x00\x08\x03", b"\x00\x00\x08\x01",
                                                              b"\x00\x00\x0d\x02"]), gz=st.booleans())
def test_random_bytes_as_an_idx_file(data, header, gz, tmp_path):
    raw = header + data
    path = tmp_path / ("x-idx3-ubyte.gz" if gz else "x-idx3-ubyte")
    path.write_bytes(gzip.compress(raw) if gz and data[:1] != b"!" else raw)  # "!": raw bytes under a .gz name
    _file_refused(path, read_idx)


@FAST
@given(key=st.one_of(st.text(max_size=30), st.sampled_from(KEYS).map(lambda k: k + "x"),
                     st.sampled_from(KEYS).map(lambda k: k.upper())), value=st.text(max_size=10))
def test_any_override_key_is_a_known_field_or_refused_by_name(key, value):
    """A key that is no config field is refused naming it (or the override's shape), before anything runs."""
    assume(key.strip() not in KEYS and not any(key.strip().startswith(k + ".") for k in KEYS))
    with pytest.raises(ConfigError) as err:
        apply_overrides(RunConfig(), [f"{key}={value}"])
    field = err.value.field  # the key, or its first part that is no field
    assert "\n" not in str(err.value) and field and (key.strip().startswith(field) or field in (
        repr(key.strip()), f"{key}={value}")), str(err.value)


# -- whole commands ------------------------------------------------------------------------------------
# The properties above hold the library; these hold what a user types. A command that only reads (plan,
# status, a dry-run submission) writes nothing for any input; an override the library refuses is refused
# by every command that takes it, with the library's own line, before anything is written.

STUDIES = ["main", "layers", "heads", "teachers", "loss_weight", "robustness"]
READ_ONLY = [("plan",), ("status",), ("submit", "--executor", "local", "--dry-run")]
WRITING = [("run",), ("analyze",), ("submit", "--executor", "local")]


def _command(argv: list[str], capsys) -> tuple[int, str]:
    """Exit status and standard error of one command, run in this process (an uncaught exception fails)."""
    try:
        rc = cli_main(argv)
    except SystemExit as exc:
        rc = exc.code
    return rc, capsys.readouterr().err.strip()


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("error: ") or "Traceback" in line]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _library_refusal(key: str, value: str) -> Optional[str]:
    """What the library says of ``key=value`` on the default run config (None: accepted)."""
    try:
        cfg = apply_overrides(RunConfig(), [f"{key}={value}"])
        validate_config(cfg)
        ShapeChecker().check(cfg)
    except UserError as exc:
        return str(exc)
    return None


def _written(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@contextlib.contextmanager
def _fresh_dir(monkeypatch) -> Iterator[Path]:
    """An empty working directory per example (pytest's tmp_path is shared by all of a test's examples)."""
    with tempfile.TemporaryDirectory() as name, monkeypatch.context() as patch:
        patch.chdir(name)
        yield Path(name)


@FAST
@given(key=st.sampled_from(KEYS), value=VALUES)
def test_train_refuses_what_the_library_refuses_with_its_line_and_writes_nothing(key, value, capsys, monkeypatch):
    refusal = _library_refusal(key, value)
    assume(refusal is not None and not refusal.startswith(NO_FIELD))  # an accepted override would train
    with _fresh_dir(monkeypatch) as here:
        rc, err = _command(["train", f"{key}={value}", f"exec.runs_root={here}/runs"], capsys)
        assert rc == 2 and _one_error_line(err) == f"error: {refusal}", err
        assert _written(here) == []


def _study_command(command: tuple[str, ...], study: str, override: str, root: Path) -> list[str]:
    return [command[0], study, override, f"exec.runs_root={root}/runs", *command[1:]]


@FAST
@given(study=st.sampled_from(STUDIES), key=st.sampled_from(KEYS), value=VALUES)
def test_study_commands_agree_on_any_override_and_refusals_write_nothing(study, key, value, capsys, monkeypatch):
    """Every read-only command accepts or refuses an override alike, and writes nothing either way; what
    they refuse, the commands that train or submit refuse with the same line, before writing anything."""
    with _fresh_dir(monkeypatch) as here:
        said = set()
        for command in READ_ONLY:
            rc, err = _command(_study_command(command, study, f"{key}={value}", here), capsys)
            assert rc in (0, 2), (command, rc, err)
            said.add(_one_error_line(err) if rc == 2 else None)
            assert _written(here) == [], command
        assert len(said) == 1, said  # a dry run refuses exactly what the others refuse
        refusal = said.pop()
        if refusal is None:
            return  # accepted: running it would train
        for command in WRITING:
            rc, err = _command(_study_command(command, study, f"{key}={value}", here), capsys)
            assert rc == 2 and _one_error_line(err) == refusal, (command, err)
            assert _written(here) == [], command


LONG_COMMANDS = settings(LONG, max_examples=200)


@pytest.mark.slow
@LONG_COMMANDS
@given(key=st.sampled_from(KEYS), value=VALUES)
def test_train_refusals_long(key, value, capsys, monkeypatch):
    test_train_refuses_what_the_library_refuses_with_its_line_and_writes_nothing.hypothesis.inner_test(
        key, value, capsys, monkeypatch)


@pytest.mark.slow
@LONG_COMMANDS
@given(study=st.sampled_from(STUDIES), key=st.sampled_from(KEYS), value=VALUES)
def test_study_commands_long(study, key, value, capsys, monkeypatch):
    test_study_commands_agree_on_any_override_and_refusals_write_nothing.hypothesis.inner_test(
        study, key, value, capsys, monkeypatch)


SMALL_FILES = settings(FAST, max_examples=12)


@SMALL_FILES
@given(data=st.binary(max_size=600), suffix=st.sampled_from([".pt", ".safetensors"]))
def test_random_bytes_as_the_teacher_through_train(data, suffix, capsys, monkeypatch):
    with _fresh_dir(monkeypatch) as here:
        path = here / f"teacher{suffix}"
        path.write_bytes(data)
        rc, err = _command(["train", "data.dataset=synthetic", "transfer.mode=distill", "teacher.source=file",
                            f"teacher.path={path}", f"exec.runs_root={here}/runs"], capsys)
        assert rc == 2 and str(path) in _one_error_line(err), err
        assert _written(here) == [path.name]


@SMALL_FILES
@given(data=st.binary(max_size=300), gz=st.booleans())
def test_random_bytes_as_the_data_through_train(data, gz, capsys, monkeypatch):
    with _fresh_dir(monkeypatch) as here:
        root = here / "fashion"
        root.mkdir()
        for name in (n for pair in FASHION_MNIST_FILES.values() for n in pair):
            (root / name).write_bytes(gzip.compress(data) if gz else data)
        rc, err = _command(["train", f"data.root={root}", f"exec.runs_root={here}/runs"], capsys)
        assert rc == 2 and str(root) in _one_error_line(err), err
        assert not (here / "runs").exists()


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats() | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                      max_size=3), max_leaves=6)
PROFILE_KEYS = ["partition", "account", "qos", "array_parallelism", "gpus_per_run", "cpus_per_task", "mem_gb",
                "hours", "constraint", "exclude", "additional", "nope"]


@FAST
@given(content=st.one_of(st.binary(max_size=200),
                         st.dictionaries(st.sampled_from(PROFILE_KEYS), JSON_VALUES, max_size=4).map(
                             lambda d: json.dumps(d).encode()),
                         JSON_VALUES.map(lambda v: json.dumps(v).encode())))
def test_any_profile_file_is_used_or_refused_in_one_line(content, capsys, monkeypatch):
    """A cluster profile is the user's JSON: random bytes, any JSON value, any field with any value."""
    with _fresh_dir(monkeypatch) as here:
        (here / "p.json").write_bytes(content)
        rc, err = _command(["submit", "main", f"exec.runs_root={here}/runs", "--executor", "local", "--profile",
                            "p.json", "--dry-run"], capsys)
        assert rc in (0, 2), err
        if rc == 2:
            assert "p.json" in _one_error_line(err), err
        assert _written(here) == ["p.json"]


@pytest.mark.slow
@settings(LONG, max_examples=300)
@given(content=st.one_of(st.binary(max_size=400), JSON_VALUES.map(lambda v: json.dumps(v).encode()),
                         st.dictionaries(st.sampled_from(PROFILE_KEYS), JSON_VALUES, max_size=6).map(
                             lambda d: json.dumps(d).encode())))
def test_any_profile_file_long(content, capsys, monkeypatch):
    test_any_profile_file_is_used_or_refused_in_one_line.hypothesis.inner_test(content, capsys, monkeypatch)
